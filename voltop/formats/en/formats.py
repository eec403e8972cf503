"""How the admin writes dates and times in English: day, month, year and the time in the active
zone (the fleet's, see FleetTimeZoneMiddleware) with that zone's abbreviation, e.g.
"2 Dec 2026 08:37 CET". Input formats are Django's own."""

DATETIME_FORMAT = "j M Y H:i T"
SHORT_DATETIME_FORMAT = "j M Y H:i T"
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
