"""URL configuration: admin, the REST API under /api/, its schema and docs, the staff pages, and the
operators' endpoints (/healthz, /readyz, /metrics)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from importhub import ops
from importhub.api import ApiRouter
from imports.api.urls import routes as import_routes
from tableconfig.api.urls import routes as config_routes

# One router for every resource: GET /api/ lists them (`api-root`); paths without trailing slashes.
api_router = ApiRouter(
    links={
        "import": "api-import",
        "compliance": "api-compliance",
        "inbox": "api-inbox",
        "schema": "api-schema",
        "docs": "api-docs",
    }
)
for prefix, viewset, basename in (*config_routes, *import_routes):
    api_router.register(prefix, viewset, basename=basename)

urlpatterns = [
    # Open by design (probes, load balancers); /metrics asks for its token or an allowed address itself.
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("imports.api.urls")),
    path("api/", include(api_router.urls)),
    path("config/", include("tableconfig.urls")),
    path("", include("imports.urls")),
]

# Plain pages that show nothing of the set-up (JSON envelopes under /api/); see importhub/views.py.
handler400 = "importhub.views.bad_request"
handler403 = "importhub.views.permission_denied"
handler404 = "importhub.views.page_not_found"
handler500 = "importhub.views.server_error"
