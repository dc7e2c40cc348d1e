from django.core.exceptions import ValidationError
from django.db import models


class Category(models.TextChoices):
    SOCIAL = "social", "Social"
    VIDEO_MUSIC = "video_music", "Video & music"
    MESSAGING = "messaging", "Messaging"
    GAMING = "gaming", "Gaming"
    CLOUD_DEV = "cloud_dev", "Cloud & developer"
    EMAIL_PRODUCTIVITY = "email_productivity", "Email & productivity"
    SHOPPING_PAYMENTS = "shopping_payments", "Shopping & payments"
    TELECOM = "telecom", "Telecom & internet"


class Problem(models.TextChoices):
    """The shared vocabulary of problems; each service offers its own subset, in its own order."""

    LOGIN = "login", "Login"
    WEBSITE = "website", "Website"
    APP = "app", "App crashing"
    CONNECTION = "connection", "Connection / server"
    UPLOAD = "upload", "Upload"
    PLAYBACK = "playback", "Playback / streaming"
    MESSAGING = "messaging", "Sending messages"
    NOTIFICATIONS = "notifications", "Notifications"
    PAYMENTS = "payments", "Payments"
    MATCHMAKING = "matchmaking", "Matchmaking / gameplay"
    DEPLOYS = "deploys", "Deploys / builds"
    EMAIL = "email", "Sending or receiving email"
    MOBILE = "mobile", "Mobile network / no signal"
    INTERNET = "internet", "Home internet"
    CALLS = "calls", "Calls"
    OTHER = "other", "Other"


PROBLEM_LABELS: dict[str, str] = {str(p.value): str(p.label) for p in Problem}


def validate_problem_list(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one problem type as a list.")
    unknown = [p for p in value if p not in PROBLEM_LABELS]
    if unknown:
        raise ValidationError(f"Unknown problem types: {', '.join(map(str, unknown))}.")
    if len(set(value)) != len(value):
        raise ValidationError("Problem types must not repeat.")


class Service(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=32, choices=Category.choices)
    home_url = models.URLField(max_length=200)
    # Problem codes in display order; JSON keeps it portable between SQLite and PostgreSQL.
    problems = models.JSONField(default=list, validators=[validate_problem_list])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def problem_choices(self) -> list[tuple[str, str]]:
        return [(code, PROBLEM_LABELS[code]) for code in self.problems]
