/* The export page: choosing another fleet loads the page again with that fleet's CSV
   settings as the form's first values. */
"use strict";
{
    const fleet = document.getElementById("id_fleet");
    if (fleet) {
        fleet.addEventListener("change", () => {
            const url = new URL(window.location.href);
            url.searchParams.set("fleet", fleet.value);
            window.location.assign(url.toString());
        });
    }
}
