"""The vocabulary and proportions the demo generator draws from."""

from __future__ import annotations

from cs_core._enums import Segment, TicketPriority

FAMILY_SIZE = 10
"""Accounts per family: an enterprise parent, its subsidiary, and eight independents."""

FEATURES = (
    "dashboard_viewed",
    "report_created",
    "workflow_run",
    "integration_synced",
    "alert_configured",
    "export_downloaded",
    "comment_added",
    "api_call",
)
SEGMENT_MIX = ((Segment.MID_MARKET, 0.30), (Segment.SMB, 0.40), (Segment.PLG, 0.30))
SEATS = {
    Segment.ENTERPRISE: (200, 2000),
    Segment.MID_MARKET: (40, 300),
    Segment.SMB: (8, 60),
    Segment.PLG: (2, 20),
}
ARR_PER_SEAT = {
    Segment.ENTERPRISE: (400, 900),
    Segment.MID_MARKET: (300, 600),
    Segment.SMB: (200, 450),
    Segment.PLG: (90, 240),
}
CONTACTS = {
    Segment.ENTERPRISE: (6, 12),
    Segment.MID_MARKET: (4, 8),
    Segment.SMB: (2, 4),
    Segment.PLG: (1, 3),
}
TICKETS_PER_MONTH = {
    Segment.ENTERPRISE: 6.0,
    Segment.MID_MARKET: 3.0,
    Segment.SMB: 1.5,
    Segment.PLG: 0.6,
}
ONBOARDING_DAYS = {
    Segment.ENTERPRISE: 90,
    Segment.MID_MARKET: 45,
    Segment.SMB: 14,
    Segment.PLG: 7,
}
RECENT_CUSTOMER_DAYS = 240
"""Customers of at most this many days get onboarding milestone records."""
CSMS = {
    Segment.ENTERPRISE: ("ava.chen", "marcus.okafor", "priya.nair"),
    Segment.MID_MARKET: ("liam.novak", "sofia.reyes", "noah.berg", "emma.dubois"),
    Segment.SMB: ("olivia.grant", "ethan.sato"),
    Segment.PLG: ("digital-cs",),
}
NAME_FIRST = (
    "Northwind",
    "Bluepeak",
    "Ironclad",
    "Silverline",
    "Brightwave",
    "Evergreen",
    "Redwood",
    "Summit",
    "Crescent",
    "Harbor",
    "Quantum",
    "Lumen",
    "Atlas",
    "Cobalt",
    "Meridian",
    "Vertex",
)
NAME_SECOND = (
    "Analytics",
    "Logistics",
    "Health",
    "Robotics",
    "Foods",
    "Energy",
    "Media",
    "Capital",
    "Systems",
    "Labs",
    "Retail",
    "Networks",
    "Biotech",
    "Studios",
    "Freight",
    "Software",
)
PEOPLE_FIRST = (
    "alex",
    "jordan",
    "sam",
    "taylor",
    "morgan",
    "casey",
    "riley",
    "jamie",
    "drew",
    "quinn",
    "avery",
    "harper",
    "rowan",
    "elliot",
    "maya",
    "omar",
    "lena",
    "kai",
    "nina",
    "theo",
)
PEOPLE_LAST = (
    "smith",
    "garcia",
    "kim",
    "patel",
    "muller",
    "rossi",
    "silva",
    "cohen",
    "wong",
    "larsen",
    "haddad",
    "ivanova",
    "nakamura",
    "obrien",
    "kowalski",
    "mensah",
    "fischer",
    "moreau",
)
TITLES = (
    "Operations Manager",
    "Director of Analytics",
    "Product Lead",
    "IT Administrator",
    "Head of Support",
    "Data Engineer",
    "Team Lead",
    "Business Analyst",
)
PRIORITIES = (
    (TicketPriority.P1, 0.05),
    (TicketPriority.P2, 0.15),
    (TicketPriority.P3, 0.50),
    (TicketPriority.P4, 0.30),
)
FIRST_RESPONSE_HOURS = {
    TicketPriority.P1: 1.0,
    TicketPriority.P2: 4.0,
    TicketPriority.P3: 24.0,
    TicketPriority.P4: 72.0,
}
