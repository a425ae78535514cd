from django.apps import AppConfig


class TableconfigConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tableconfig"
    verbose_name = "Table configuration"
