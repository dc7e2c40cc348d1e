from django.urls import path

from reports.api import RecoveryCreateApi, ReportBatchCreateApi, ReportCreateApi

urlpatterns = [
    path("reports", ReportCreateApi.as_view(), name="api_report_create"),
    path("reports/batch", ReportBatchCreateApi.as_view(), name="api_report_batch"),
    path("recoveries", RecoveryCreateApi.as_view(), name="api_recovery_create"),
]
