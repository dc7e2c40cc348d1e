from django.urls import path

from alerts import views

urlpatterns = [
    path("alerts/confirm/<str:token>/", views.alert_confirm, name="alert_confirm"),
    path("alerts/unsubscribe/<str:token>/", views.alert_unsubscribe, name="alert_unsubscribe"),
    path("<slug:slug>/alerts/", views.alert_form, name="alert_form"),
    path("<slug:slug>/alerts/sent/", views.alert_sent, name="alert_sent"),
]
