"""The seeded service catalogue: widely used services and the problems people report for each,
in the order the report form offers them. `popularity` scales the demo history's volume.

Also the seeded dependency map: which services run on which cloud, CDN, DNS or sign-in
provider (`DEPENDENCIES`), and which services are access networks in which countries
(`ACCESS`), each fact with the public page it came from. Providers are catalogue services of
their own, so people can report them too. The admin edits the map; seeding adds missing facts
and leaves edited ones as they are."""

from typing import NamedTuple


class Entry(NamedTuple):
    slug: str
    name: str
    category: str
    home_url: str
    problems: tuple[str, ...]
    popularity: float  # typical reports per minute at the daily peak, for the demo


SOCIAL = ("login", "app", "upload", "website", "notifications", "other")
VIDEO = ("playback", "login", "app", "website", "other")
MUSIC = ("playback", "app", "login", "other")
MESSAGING = ("messaging", "connection", "login", "calls", "notifications", "app", "other")
GAMING = ("connection", "login", "matchmaking", "payments", "other")
CLOUD = ("website", "connection", "login", "deploys", "other")
EMAIL = ("email", "login", "website", "app", "other")
SHOP = ("website", "login", "payments", "app", "other")
BANK = ("login", "payments", "app", "website", "other")
TELECOM = ("mobile", "internet", "calls", "website", "other")

CATALOGUE: tuple[Entry, ...] = (
    # Social
    Entry("facebook", "Facebook", "social", "https://www.facebook.com", SOCIAL, 6.0),
    Entry("instagram", "Instagram", "social", "https://www.instagram.com", SOCIAL, 6.0),
    Entry(
        "tiktok",
        "TikTok",
        "social",
        "https://www.tiktok.com",
        ("playback", "upload", "login", "app", "connection", "other"),
        5.0,
    ),
    Entry("x", "X (Twitter)", "social", "https://x.com", SOCIAL, 5.0),
    Entry("reddit", "Reddit", "social", "https://www.reddit.com", SOCIAL, 3.0),
    Entry(
        "snapchat",
        "Snapchat",
        "social",
        "https://www.snapchat.com",
        ("messaging", "login", "app", "upload", "other"),
        2.5,
    ),
    Entry("linkedin", "LinkedIn", "social", "https://www.linkedin.com", SOCIAL, 1.0),
    Entry("pinterest", "Pinterest", "social", "https://www.pinterest.com", SOCIAL, 0.6),
    Entry("threads", "Threads", "social", "https://www.threads.net", SOCIAL, 0.8),
    # Video & music
    Entry(
        "youtube",
        "YouTube",
        "video_music",
        "https://www.youtube.com",
        ("playback", "upload", "login", "app", "website", "other"),
        6.0,
    ),
    Entry("netflix", "Netflix", "video_music", "https://www.netflix.com", VIDEO, 4.0),
    Entry("disney-plus", "Disney+", "video_music", "https://www.disneyplus.com", VIDEO, 1.5),
    Entry("prime-video", "Prime Video", "video_music", "https://www.primevideo.com", VIDEO, 1.5),
    Entry(
        "twitch",
        "Twitch",
        "video_music",
        "https://www.twitch.tv",
        ("playback", "login", "upload", "app", "other"),
        1.5,
    ),
    Entry("spotify", "Spotify", "video_music", "https://www.spotify.com", MUSIC, 3.0),
    Entry("apple-music", "Apple Music", "video_music", "https://music.apple.com", MUSIC, 0.8),
    Entry("hulu", "Hulu", "video_music", "https://www.hulu.com", VIDEO, 0.8),
    # Messaging
    Entry("whatsapp", "WhatsApp", "messaging", "https://www.whatsapp.com", MESSAGING, 6.0),
    Entry("telegram", "Telegram", "messaging", "https://telegram.org", MESSAGING, 2.0),
    Entry("discord", "Discord", "messaging", "https://discord.com", MESSAGING, 3.0),
    Entry("signal", "Signal", "messaging", "https://signal.org", MESSAGING, 0.5),
    Entry(
        "slack",
        "Slack",
        "messaging",
        "https://slack.com",
        ("messaging", "connection", "login", "notifications", "calls", "other"),
        1.5,
    ),
    Entry(
        "zoom",
        "Zoom",
        "messaging",
        "https://zoom.us",
        ("calls", "connection", "login", "app", "other"),
        1.2,
    ),
    Entry(
        "microsoft-teams",
        "Microsoft Teams",
        "messaging",
        "https://www.microsoft.com/microsoft-teams",
        ("calls", "messaging", "login", "connection", "app", "other"),
        1.5,
    ),
    # Gaming
    Entry(
        "steam",
        "Steam",
        "gaming",
        "https://store.steampowered.com",
        ("connection", "login", "website", "payments", "other"),
        2.0,
    ),
    Entry(
        "playstation-network",
        "PlayStation Network",
        "gaming",
        "https://www.playstation.com",
        GAMING,
        2.5,
    ),
    Entry("xbox-live", "Xbox Live", "gaming", "https://www.xbox.com", GAMING, 1.5),
    Entry("fortnite", "Fortnite", "gaming", "https://www.fortnite.com", GAMING, 2.0),
    Entry("roblox", "Roblox", "gaming", "https://www.roblox.com", GAMING, 3.0),
    Entry(
        "nintendo-switch-online",
        "Nintendo Switch Online",
        "gaming",
        "https://www.nintendo.com",
        GAMING,
        0.6,
    ),
    Entry(
        "league-of-legends",
        "League of Legends",
        "gaming",
        "https://www.leagueoflegends.com",
        GAMING,
        1.0,
    ),
    # Cloud & developer
    Entry("aws", "Amazon Web Services", "cloud_dev", "https://aws.amazon.com", CLOUD, 0.8),
    Entry("google-cloud", "Google Cloud", "cloud_dev", "https://cloud.google.com", CLOUD, 0.4),
    Entry("azure", "Microsoft Azure", "cloud_dev", "https://azure.microsoft.com", CLOUD, 0.5),
    Entry(
        "github",
        "GitHub",
        "cloud_dev",
        "https://github.com",
        ("website", "deploys", "login", "connection", "other"),
        0.8,
    ),
    Entry("cloudflare", "Cloudflare", "cloud_dev", "https://www.cloudflare.com", CLOUD, 0.6),
    Entry(
        "chatgpt",
        "ChatGPT",
        "cloud_dev",
        "https://chatgpt.com",
        ("website", "login", "app", "connection", "other"),
        3.0,
    ),
    # Email & productivity
    Entry("gmail", "Gmail", "email_productivity", "https://mail.google.com", EMAIL, 2.5),
    Entry("outlook", "Outlook.com", "email_productivity", "https://outlook.live.com", EMAIL, 1.5),
    Entry(
        "microsoft-365",
        "Microsoft 365",
        "email_productivity",
        "https://www.office.com",
        ("login", "email", "website", "app", "other"),
        1.2,
    ),
    Entry(
        "google-drive",
        "Google Drive",
        "email_productivity",
        "https://drive.google.com",
        ("upload", "login", "website", "app", "other"),
        0.8,
    ),
    Entry(
        "icloud",
        "iCloud",
        "email_productivity",
        "https://www.icloud.com",
        ("login", "upload", "email", "website", "other"),
        1.0,
    ),
    Entry(
        "dropbox",
        "Dropbox",
        "email_productivity",
        "https://www.dropbox.com",
        ("upload", "login", "website", "app", "other"),
        0.4,
    ),
    # Shopping & payments
    Entry("amazon", "Amazon", "shopping_payments", "https://www.amazon.com", SHOP, 2.0),
    Entry("paypal", "PayPal", "shopping_payments", "https://www.paypal.com", BANK, 1.5),
    Entry("ebay", "eBay", "shopping_payments", "https://www.ebay.com", SHOP, 0.6),
    Entry(
        "shopify",
        "Shopify",
        "shopping_payments",
        "https://www.shopify.com",
        ("website", "payments", "login", "other"),
        0.3,
    ),
    Entry(
        "stripe",
        "Stripe",
        "shopping_payments",
        "https://stripe.com",
        ("payments", "website", "login", "other"),
        0.2,
    ),
    Entry("chase", "Chase", "shopping_payments", "https://www.chase.com", BANK, 1.0),
    Entry(
        "bank-of-america",
        "Bank of America",
        "shopping_payments",
        "https://www.bankofamerica.com",
        BANK,
        0.8,
    ),
    Entry("revolut", "Revolut", "shopping_payments", "https://www.revolut.com", BANK, 0.6),
    # Telecom & internet
    Entry("verizon", "Verizon", "telecom", "https://www.verizon.com", TELECOM, 2.0),
    Entry("att", "AT&T", "telecom", "https://www.att.com", TELECOM, 2.0),
    Entry("t-mobile", "T-Mobile", "telecom", "https://www.t-mobile.com", TELECOM, 1.5),
    Entry("comcast-xfinity", "Comcast Xfinity", "telecom", "https://www.xfinity.com", TELECOM, 1.5),
    Entry("vodafone", "Vodafone", "telecom", "https://www.vodafone.com", TELECOM, 1.2),
    Entry("bt", "BT", "telecom", "https://www.bt.com", TELECOM, 0.6),
    Entry(
        "starlink",
        "Starlink",
        "telecom",
        "https://www.starlink.com",
        ("internet", "connection", "app", "other"),
        0.3,
    ),
    # Providers people reach only through other services; last, so that the demo's streams of
    # the services above stay as they were.
    Entry("akamai", "Akamai", "cloud_dev", "https://www.akamai.com", CLOUD, 0.1),
    Entry("fastly", "Fastly", "cloud_dev", "https://www.fastly.com", CLOUD, 0.1),
)


class Fact(NamedTuple):
    service: str
    provider: str
    kind: str  # outages.models.DependencyKind
    source: str


AWS_CASES = "https://aws.amazon.com/solutions/case-studies/"
GCP_CASES = "https://cloud.google.com/customers/"

DEPENDENCIES: tuple[Fact, ...] = (
    # Runs on a cloud, from the providers' own customer pages (or the owner's statement).
    Fact("netflix", "aws", "hosting", AWS_CASES + "netflix/"),
    Fact("slack", "aws", "hosting", AWS_CASES + "slack/"),
    Fact("pinterest", "aws", "hosting", AWS_CASES + "pinterest/"),
    Fact("fortnite", "aws", "hosting", AWS_CASES + "epic-games/"),
    Fact("league-of-legends", "aws", "hosting", AWS_CASES + "riot-games/"),
    Fact("twitch", "aws", "hosting", AWS_CASES + "twitch/"),
    Fact("zoom", "aws", "hosting", AWS_CASES + "zoom/"),
    Fact("prime-video", "aws", "hosting", AWS_CASES + "amazon-prime-video/"),
    Fact("amazon", "aws", "hosting", "https://aws.amazon.com/about-aws/"),
    Fact("disney-plus", "aws", "hosting", AWS_CASES + "disney-streaming/"),
    Fact("hulu", "aws", "hosting", AWS_CASES + "hulu/"),
    Fact("spotify", "google-cloud", "hosting", GCP_CASES + "spotify"),
    Fact("snapchat", "google-cloud", "hosting", GCP_CASES + "snap"),
    Fact("discord", "google-cloud", "hosting", GCP_CASES + "discord"),
    Fact("paypal", "google-cloud", "hosting", GCP_CASES + "paypal"),
    Fact(
        "chatgpt",
        "azure",
        "hosting",
        "https://openai.com/index/openai-and-microsoft-extend-partnership/",
    ),
    # Microsoft's services sign in through Entra ID, which Azure runs.
    *(
        Fact(slug, "azure", "identity", "https://learn.microsoft.com/en-us/entra/identity/")
        for slug in ("microsoft-teams", "microsoft-365", "outlook", "xbox-live")
    ),
    Fact("github", "azure", "hosting", "https://github.blog/news-insights/company-news/"),
    # Content delivery and DNS, from the providers' case studies and their incident reports.
    Fact("discord", "cloudflare", "cdn", "https://www.cloudflare.com/case-studies/discord/"),
    Fact("shopify", "cloudflare", "cdn", "https://www.cloudflare.com/case-studies/shopify/"),
    Fact("chatgpt", "cloudflare", "cdn", "https://blog.cloudflare.com/18-november-2025-outage/"),
    Fact("x", "cloudflare", "cdn", "https://blog.cloudflare.com/18-november-2025-outage/"),
    Fact("reddit", "fastly", "cdn", "https://www.fastly.com/blog/summary-of-june-8-outage"),
    Fact("twitch", "fastly", "cdn", "https://www.fastly.com/blog/summary-of-june-8-outage"),
    Fact("github", "fastly", "cdn", "https://www.fastly.com/blog/summary-of-june-8-outage"),
    Fact("spotify", "fastly", "cdn", "https://www.fastly.com/blog/summary-of-june-8-outage"),
    Fact("pinterest", "fastly", "cdn", "https://www.fastly.com/blog/summary-of-june-8-outage"),
    Fact("paypal", "akamai", "dns", "https://www.akamai.com/blog/news"),
    Fact("playstation-network", "akamai", "cdn", "https://www.akamai.com/blog/news"),
    Fact("steam", "akamai", "cdn", "https://www.akamai.com/blog/news"),
    Fact("apple-music", "akamai", "cdn", "https://www.akamai.com/blog/news"),
    # Sign-in through another service.
    Fact("google-drive", "gmail", "identity", "https://support.google.com/accounts/"),
    Fact("threads", "instagram", "identity", "https://help.instagram.com/"),
)


class Access(NamedTuple):
    service: str
    country: str
    source: str


VODAFONE_WHERE = "https://www.vodafone.com/about-vodafone/where-we-operate"
STARLINK_MAP = "https://www.starlink.com/map"

ACCESS: tuple[Access, ...] = (
    Access("verizon", "US", "https://www.verizon.com/about"),
    Access("att", "US", "https://about.att.com/"),
    Access("t-mobile", "US", "https://www.t-mobile.com/about-us"),
    Access("comcast-xfinity", "US", "https://corporate.comcast.com/"),
    Access("bt", "GB", "https://www.bt.com/about"),
    *(Access("vodafone", cc, VODAFONE_WHERE) for cc in ("GB", "DE", "ES", "IT", "PT", "IE")),
    *(Access("starlink", cc, STARLINK_MAP) for cc in ("US", "CA", "GB", "DE", "AU", "BR")),
)


class StatusSource(NamedTuple):
    service: str
    format: str  # outages.models.StatusFormat
    url: str  # Statuspage: the page's root; a feed: the feed
    page_url: str


def _statuspage(slug: str, root: str) -> StatusSource:
    return StatusSource(slug, "statuspage", root, root)


# Official status pages: Atlassian Statuspage's public JSON where the page runs on it, the
# clouds' own feeds otherwise. Nothing here is fetched until a worker consumes the "status"
# queue.
STATUS_PAGES: tuple[StatusSource, ...] = (
    _statuspage("github", "https://www.githubstatus.com"),
    _statuspage("discord", "https://discordstatus.com"),
    _statuspage("reddit", "https://www.redditstatus.com"),
    _statuspage("dropbox", "https://status.dropbox.com"),
    _statuspage("zoom", "https://status.zoom.us"),
    _statuspage("cloudflare", "https://www.cloudflarestatus.com"),
    _statuspage("chatgpt", "https://status.openai.com"),
    _statuspage("twitch", "https://status.twitch.com"),
    _statuspage("shopify", "https://www.shopifystatus.com"),
    StatusSource(
        "aws",
        "feed",
        "https://status.aws.amazon.com/rss/all.rss",
        "https://health.aws.amazon.com/health/status",
    ),
    StatusSource(
        "google-cloud",
        "feed",
        "https://status.cloud.google.com/en/feed.atom",
        "https://status.cloud.google.com",
    ),
    StatusSource(
        "azure",
        "feed",
        "https://azure.status.microsoft/en-us/status/feed/",
        "https://azure.status.microsoft/en-us/status",
    ),
)
