"""How the admin writes dates and times in English: day, month, year and the time in the active
zone (the fleet's, see FleetTimeZoneMiddleware) with its offset from UTC, e.g.
"2 Dec 2026 08:37 +0100". Input formats are Django's own."""

DATETIME_FORMAT = "j M Y H:i O"
SHORT_DATETIME_FORMAT = "j M Y H:i O"
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
