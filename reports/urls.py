from django.urls import path

from reports import views

# Outside the language prefixes: the form's script reads it in any language.
data_urlpatterns = [
    path("regions/<str:country>.json", views.subdivisions_json, name="subdivisions_json"),
]

# The form and its confirmations, under each language's prefix (config/urls.py).
urlpatterns = [
    path("<slug:slug>/report", views.report_form, name="report_form"),
    path("<slug:slug>/report/thanks", views.report_thanks, name="report_thanks"),
    path("<slug:slug>/report/received", views.report_received, name="report_received"),
    path("<slug:slug>/report/already", views.report_already, name="report_already"),
    path("<slug:slug>/works-again", views.recovery_form, name="recovery_form"),
    path("<slug:slug>/works-again/thanks", views.recovery_thanks, name="recovery_thanks"),
]
