/* Follows billing runs that are still working: every two seconds it asks each one's progress
   and shows the units done; once a run has finished, the page is loaded again so its status,
   counts and totals show. */
"use strict";
{
    const WORKING = new Set(["pending", "running"]);
    const INTERVAL_MS = 2000;

    function follow(element) {
        const poll = async () => {
            const response = await fetch(element.dataset.progressUrl, {
                headers: {Accept: "application/json"},
                credentials: "same-origin",
            });
            if (!response.ok) {
                return;
            }
            const progress = await response.json();
            element.textContent = progress.units_total
                ? `${progress.units_done}/${progress.units_total}`
                : "-";
            if (WORKING.has(progress.status)) {
                window.setTimeout(poll, INTERVAL_MS);
            } else {
                window.location.reload();
            }
        };
        window.setTimeout(poll, INTERVAL_MS);
    }

    document.addEventListener("DOMContentLoaded", () => {
        for (const element of document.querySelectorAll(".billing-run-progress[data-progress-url]")) {
            if (WORKING.has(element.dataset.status)) {
                follow(element);
            }
        }
    });
}
