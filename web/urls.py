from django.urls import path

from web import embeds, views

# Outside the language prefixes (config/urls.py): they say the same in every language.
neutral_urlpatterns = [
    # Liveness is /healthz (config/urls.py): the process answers, and touches nothing else.
    path("healthz/ready", views.healthz_ready, name="healthz_ready"),
    path("oembed", embeds.oembed, name="oembed"),
    path("<slug:slug>/badge.svg", embeds.badge, name="badge"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("map/", views.live_map, name="live_map"),
    path("region/<str:country>/", views.region, name="region"),
    path("events/<int:event_id>/", views.event_detail, name="event_detail"),
    path("offline/", views.offline, name="offline"),
    path("<slug:slug>/", views.service_detail, name="service_detail"),
    path("<slug:slug>/embed/", embeds.embed, name="embed"),
]
