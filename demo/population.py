"""Who reports what from where in the demo: countries with their audience shares and
subdivisions, markets and tilts per service, daily rhythm profiles, and the comment texts."""

from typing import NamedTuple


class Country(NamedTuple):
    code: str
    weight: float  # rough share of the site's audience
    # (IANA zone, share of the country's users, standard UTC offset in hours used when the
    # machine has no time-zone database)
    zones: tuple[tuple[str, float, float], ...]
    subdivision_rate: float = 0.0
    subdivisions: tuple[tuple[str, float], ...] = ()  # code, population in millions


# fmt: off
# Hand-aligned population tables: easier to check against a census than one per line.
US_STATES = (
    ("US-CA", 39.0), ("US-TX", 30.0), ("US-FL", 22.6), ("US-NY", 19.6), ("US-PA", 13.0),
    ("US-IL", 12.5), ("US-OH", 11.8), ("US-GA", 11.0), ("US-NC", 10.8), ("US-MI", 10.0),
    ("US-NJ", 9.3), ("US-VA", 8.7), ("US-WA", 7.8), ("US-AZ", 7.4), ("US-TN", 7.1),
    ("US-MA", 7.0), ("US-IN", 6.8), ("US-MO", 6.2), ("US-MD", 6.2), ("US-WI", 5.9),
    ("US-CO", 5.9), ("US-MN", 5.7), ("US-SC", 5.3), ("US-AL", 5.1), ("US-LA", 4.6),
    ("US-KY", 4.5), ("US-OR", 4.2), ("US-OK", 4.0), ("US-CT", 3.6), ("US-UT", 3.4),
    ("US-IA", 3.2), ("US-NV", 3.2), ("US-AR", 3.0), ("US-MS", 2.9), ("US-KS", 2.9),
    ("US-NM", 2.1), ("US-NE", 2.0), ("US-ID", 2.0), ("US-WV", 1.8), ("US-HI", 1.4),
    ("US-NH", 1.4), ("US-ME", 1.4), ("US-MT", 1.1), ("US-RI", 1.1), ("US-DE", 1.0),
    ("US-SD", 0.9), ("US-ND", 0.8), ("US-AK", 0.7), ("US-DC", 0.7), ("US-VT", 0.65),
    ("US-WY", 0.58),
)
BR_STATES = (
    ("BR-SP", 46.0), ("BR-MG", 20.5), ("BR-RJ", 16.0), ("BR-BA", 14.0), ("BR-PR", 11.4),
    ("BR-RS", 10.9), ("BR-PE", 9.0), ("BR-CE", 8.8), ("BR-PA", 8.1), ("BR-SC", 7.6),
    ("BR-GO", 7.0), ("BR-MA", 6.8), ("BR-PB", 4.0), ("BR-AM", 3.9), ("BR-ES", 3.8),
    ("BR-MT", 3.7), ("BR-RN", 3.3), ("BR-PI", 3.3), ("BR-AL", 3.1), ("BR-DF", 2.8),
    ("BR-MS", 2.8), ("BR-SE", 2.2), ("BR-RO", 1.6), ("BR-TO", 1.5), ("BR-AC", 0.8),
    ("BR-AP", 0.7), ("BR-RR", 0.6),
)
IN_STATES = (
    ("IN-UP", 200.0), ("IN-MH", 124.0), ("IN-BR", 104.0), ("IN-WB", 99.0), ("IN-MP", 85.0),
    ("IN-RJ", 79.0), ("IN-TN", 77.0), ("IN-GJ", 70.0), ("IN-KA", 67.0), ("IN-AP", 53.0),
    ("IN-OD", 46.0), ("IN-TS", 38.0), ("IN-JH", 38.0), ("IN-KL", 35.0), ("IN-AS", 35.0),
    ("IN-PB", 30.0), ("IN-HR", 28.0), ("IN-CG", 29.0), ("IN-DL", 19.0), ("IN-UK", 11.0),
)
DE_STATES = (
    ("DE-NW", 18.0), ("DE-BY", 13.2), ("DE-BW", 11.1), ("DE-NI", 8.0), ("DE-HE", 6.3),
    ("DE-SN", 4.1), ("DE-RP", 4.1), ("DE-BE", 3.7), ("DE-SH", 2.9), ("DE-BB", 2.5),
    ("DE-ST", 2.2), ("DE-TH", 2.1), ("DE-HH", 1.9), ("DE-MV", 1.6), ("DE-SL", 1.0),
    ("DE-HB", 0.7),
)
GB_NATIONS = (("GB-ENG", 56.5), ("GB-SCT", 5.4), ("GB-WLS", 3.1), ("GB-NIR", 1.9))
CA_PROVINCES = (
    ("CA-ON", 15.6), ("CA-QC", 8.9), ("CA-BC", 5.6), ("CA-AB", 4.8), ("CA-MB", 1.4),
    ("CA-SK", 1.2), ("CA-NS", 1.0), ("CA-NB", 0.8), ("CA-NL", 0.5), ("CA-PE", 0.17),
)
AU_STATES = (
    ("AU-NSW", 8.3), ("AU-VIC", 6.8), ("AU-QLD", 5.5), ("AU-WA", 2.9), ("AU-SA", 1.9),
    ("AU-TAS", 0.57), ("AU-ACT", 0.47), ("AU-NT", 0.25),
)
# fmt: on

COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        30.0,
        (
            ("America/New_York", 0.47, -5),
            ("America/Chicago", 0.29, -6),
            ("America/Denver", 0.07, -7),
            ("America/Los_Angeles", 0.17, -8),
        ),
        0.75,
        US_STATES,
    ),
    Country("IN", 9.0, (("Asia/Kolkata", 1.0, 5.5),), 0.55, IN_STATES),
    Country(
        "BR",
        8.0,
        (("America/Sao_Paulo", 0.9, -3), ("America/Manaus", 0.1, -4)),
        0.7,
        BR_STATES,
    ),
    Country("GB", 7.0, (("Europe/London", 1.0, 0),), 0.6, GB_NATIONS),
    Country("DE", 5.0, (("Europe/Berlin", 1.0, 1),), 0.6, DE_STATES),
    Country("FR", 4.0, (("Europe/Paris", 1.0, 1),)),
    Country("MX", 4.0, (("America/Mexico_City", 1.0, -6),)),
    Country("JP", 3.5, (("Asia/Tokyo", 1.0, 9),)),
    Country(
        "CA",
        3.5,
        (
            ("America/Toronto", 0.6, -5),
            ("America/Vancouver", 0.25, -8),
            ("America/Edmonton", 0.15, -7),
        ),
        0.7,
        CA_PROVINCES,
    ),
    Country("IT", 3.0, (("Europe/Rome", 1.0, 1),)),
    Country("ES", 3.0, (("Europe/Madrid", 1.0, 1),)),
    Country(
        "AU",
        2.5,
        (
            ("Australia/Sydney", 0.6, 10),
            ("Australia/Brisbane", 0.2, 10),
            ("Australia/Perth", 0.1, 8),
            ("Australia/Adelaide", 0.1, 9.5),
        ),
        0.7,
        AU_STATES,
    ),
    Country("ID", 2.0, (("Asia/Jakarta", 1.0, 7),)),
    Country("NL", 1.8, (("Europe/Amsterdam", 1.0, 1),)),
    Country("PL", 1.6, (("Europe/Warsaw", 1.0, 1),)),
    Country("PH", 1.5, (("Asia/Manila", 1.0, 8),)),
    Country("TR", 1.5, (("Europe/Istanbul", 1.0, 3),)),
    Country("AR", 1.2, (("America/Argentina/Buenos_Aires", 1.0, -3),)),
    Country("CO", 1.0, (("America/Bogota", 1.0, -5),)),
    Country("KR", 1.0, (("Asia/Seoul", 1.0, 9),)),
    Country("SE", 0.8, (("Europe/Stockholm", 1.0, 1),)),
    Country("ZA", 0.8, (("Africa/Johannesburg", 1.0, 2),)),
    Country("BE", 0.6, (("Europe/Brussels", 1.0, 1),)),
    Country("NG", 0.6, (("Africa/Lagos", 1.0, 1),)),
    Country("PK", 0.6, (("Asia/Karachi", 1.0, 5),)),
    Country("SA", 0.6, (("Asia/Riyadh", 1.0, 3),)),
    Country("CL", 0.6, (("America/Santiago", 1.0, -4),)),
    Country("PT", 0.5, (("Europe/Lisbon", 1.0, 0),)),
    Country("EG", 0.5, (("Africa/Cairo", 1.0, 2),)),
    Country("IE", 0.4, (("Europe/Dublin", 1.0, 0),)),
    Country("AE", 0.4, (("Asia/Dubai", 1.0, 4),)),
    Country("CH", 0.4, (("Europe/Zurich", 1.0, 1),)),
    Country("AT", 0.4, (("Europe/Vienna", 1.0, 1),)),
    Country("NZ", 0.3, (("Pacific/Auckland", 1.0, 12),)),
)
COUNTRY_CODES = tuple(c.code for c in COUNTRIES)
COUNTRY_INDEX = {code: i for i, code in enumerate(COUNTRY_CODES)}

# Where a service's audience differs from the site's overall mix: carriers, banks and some
# streamers only exist in a few countries.
# fmt: off
MARKETS: dict[str, dict[str, float]] = {
    "verizon": {"US": 1.0},
    "comcast-xfinity": {"US": 1.0},
    "bank-of-america": {"US": 1.0},
    "hulu": {"US": 1.0},
    "att": {"US": 0.95, "MX": 0.05},
    "t-mobile": {"US": 0.92, "DE": 0.04, "NL": 0.02, "PL": 0.01, "AT": 0.01},
    "chase": {"US": 0.96, "GB": 0.04},
    "bt": {"GB": 1.0},
    "vodafone": {
        "GB": 0.27, "DE": 0.24, "IT": 0.12, "ES": 0.1, "TR": 0.07, "NL": 0.05, "PT": 0.04,
        "IE": 0.04, "EG": 0.03, "ZA": 0.04,
    },
    "revolut": {
        "GB": 0.4, "FR": 0.1, "DE": 0.1, "IE": 0.08, "ES": 0.08, "IT": 0.08, "PL": 0.08,
        "NL": 0.04, "PT": 0.04,
    },
}
# fmt: on
# Services used everywhere but much more in some places than the overall mix suggests.
TILTS: dict[str, dict[str, float]] = {
    "whatsapp": {"US": 0.35, "IN": 3.0, "BR": 2.5, "MX": 2.0, "DE": 1.5, "ES": 1.8, "ID": 2.0},
    "tiktok": {"BR": 1.6, "ID": 2.0, "PH": 1.8, "MX": 1.4},
    "telegram": {"IN": 2.0, "BR": 1.5, "TR": 2.0, "US": 0.4},
    "x": {"US": 1.3, "JP": 2.5, "GB": 1.3},
    "reddit": {"US": 1.6, "GB": 1.3, "CA": 1.5, "AU": 1.3, "IN": 0.6, "BR": 0.5},
    "snapchat": {"US": 1.4, "GB": 1.4, "FR": 1.8, "SA": 2.5, "IN": 0.5},
    "league-of-legends": {"KR": 3.0, "BR": 1.3, "US": 0.6},
    "nintendo-switch-online": {"JP": 3.0},
    "prime-video": {"IN": 1.6, "US": 1.3},
    "amazon": {"US": 1.5, "DE": 1.6, "GB": 1.4, "JP": 1.3},
    "paypal": {"US": 1.3, "DE": 2.0, "GB": 1.4},
}


class Profile(NamedTuple):
    hourly: tuple[float, ...]  # relative activity at each local hour, 0..23
    weekly: tuple[float, ...]  # relative activity Monday..Sunday


# fmt: off
PROFILES: dict[str, Profile] = {
    # Entertainment, social and home internet: quiet at night, busiest in the evening, a bit
    # busier at weekends.
    "leisure": Profile(
        (
            0.45, 0.3, 0.2, 0.14, 0.11, 0.12, 0.2, 0.32, 0.42, 0.5, 0.55, 0.6,
            0.66, 0.66, 0.64, 0.66, 0.72, 0.8, 0.88, 0.95, 1.0, 0.98, 0.85, 0.65,
        ),
        (0.97, 0.95, 0.96, 0.98, 1.03, 1.14, 1.1),
    ),
    # Work tools: office hours on weekdays, a sliver at weekends.
    "work": Profile(
        (
            0.08, 0.05, 0.04, 0.04, 0.05, 0.1, 0.2, 0.4, 0.75, 0.95, 1.0, 0.97,
            0.85, 0.92, 0.95, 0.9, 0.8, 0.6, 0.42, 0.32, 0.26, 0.2, 0.15, 0.1,
        ),
        (1.05, 1.03, 1.0, 1.0, 0.93, 0.32, 0.28),
    ),
    # Mail, shopping and banking: errands through the day into the early evening.
    "daytime": Profile(
        (
            0.18, 0.1, 0.07, 0.05, 0.05, 0.08, 0.18, 0.35, 0.55, 0.72, 0.85, 0.92,
            0.95, 0.92, 0.9, 0.9, 0.92, 0.95, 0.97, 1.0, 0.95, 0.8, 0.55, 0.32,
        ),
        (1.03, 1.0, 1.0, 1.0, 1.02, 0.92, 0.85),
    ),
}
# fmt: on
CATEGORY_PROFILES = {
    "social": "leisure",
    "video_music": "leisure",
    "messaging": "leisure",
    "gaming": "leisure",
    "telecom": "leisure",
    "cloud_dev": "work",
    "email_productivity": "daytime",
    "shopping_payments": "daytime",
}
SERVICE_PROFILES = {
    "slack": "work",
    "zoom": "work",
    "microsoft-teams": "work",
    "microsoft-365": "work",
    "chatgpt": "daytime",
}


COMMENTS: dict[str, tuple[str, ...]] = {
    "login": (
        "Can't log in, it keeps saying my password is wrong",
        "Logged me out and now the login page just spins",
        "2FA code never arrives",
        "Stuck in a login loop",
    ),
    "website": (
        "Site won't load at all",
        "Getting a 502 error",
        "Page loads but nothing works",
        "Website is extremely slow",
    ),
    "app": (
        "App crashes as soon as I open it",
        "App stuck on the splash screen",
        "Reinstalled the app, still crashing",
    ),
    "connection": (
        "Can't connect to the server",
        "Keeps disconnecting every few minutes",
        "Connection timed out",
    ),
    "upload": (
        "Uploads stuck at 99%",
        "Video upload fails every time",
        "Can't post anything, upload just errors",
    ),
    "playback": (
        "Videos won't play, just buffering",
        "Stream keeps freezing",
        "Black screen with sound only",
        "Playback error on every title",
    ),
    "messaging": (
        "Messages not sending, just one tick",
        "Messages stuck on sending",
        "Not receiving any messages",
    ),
    "notifications": (
        "No notifications since this morning",
        "Notifications arriving hours late",
    ),
    "payments": (
        "Payment declined but the card is fine",
        "Checkout fails at the last step",
        "Transfer pending for hours",
    ),
    "matchmaking": (
        "Stuck in matchmaking forever",
        "Kicked from every match",
        "Lag spikes make it unplayable",
    ),
    "deploys": (
        "Builds queued and never start",
        "Deploys failing with an internal error",
        "Actions runners not picking up jobs",
    ),
    "email": (
        "Emails not arriving",
        "Can't send email, stuck in outbox",
        "Inbox won't refresh",
    ),
    "mobile": (
        "No signal at all",
        "SOS only on my phone",
        "Mobile data not working",
    ),
    "internet": (
        "Home internet down, modem blinking",
        "Internet keeps dropping",
        "Very slow speeds tonight",
    ),
    "calls": (
        "Calls drop after a few seconds",
        "Can't make or receive calls",
        "Call audio cuts out",
    ),
    "other": (
        "Something is off, nothing works properly",
        "Down for me too",
        "Is it just me?",
    ),
}
LOCAL_COMMENTS: dict[str, tuple[str, ...]] = {
    "pt": ("Não está funcionando aqui", "Caiu de novo?", "Fora do ar desde cedo", "Aqui também"),
    "es": ("No funciona desde hace un rato", "¿Se cayó?", "No carga nada", "Caído aquí también"),
    "de": ("Geht bei mir gar nicht", "Seit einer Stunde down", "Lädt nicht"),
    "fr": ("Ça ne marche plus", "Rien ne marche depuis ce matin", "En panne chez moi aussi"),
}
COUNTRY_LANGUAGE = {
    "BR": "pt",
    "PT": "pt",
    "MX": "es",
    "ES": "es",
    "AR": "es",
    "CO": "es",
    "CL": "es",
    "DE": "de",
    "AT": "de",
    "CH": "de",
    "FR": "fr",
    "BE": "fr",
}
