"""The composition root: ``create_app(settings)`` builds the whole API.

Each domain's controllers are imported by name here, and nowhere else; so are the process-wide
dependencies (connections, the runtime, the principal) and the error handlers.
"""

import os

from litestar import Controller, Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.handlers import WebsocketRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin

from citadel import __version__
from citadel.auth.guards import provide_principal, provide_principal_or_guest
from citadel.auth.routes import AuthController, PasswordController
from citadel.bulk.routes import VendorBulkController
from citadel.cart.routes import CartController
from citadel.catalog.models import CACHE_TOPICS
from citadel.catalog.routes import (
    CategoriesAdminController,
    CategoriesController,
    ProductsController,
    VendorProductsController,
)
from citadel.checkout.routes import CheckoutController
from citadel.inventory.routes import InventoryController, TransfersController, WarehousesController
from citadel.kit.collector import tune_for_serving
from citadel.kit.errors import EXCEPTION_HANDLERS
from citadel.kit.http import EdgeMiddleware
from citadel.kit.observability import configure_logging
from citadel.kit.runtime import Runtime, provide_conn, provide_runtime, provide_tx
from citadel.live.routes import live
from citadel.notifications.routes import NotificationsController
from citadel.orders.routes import (
    FulfilmentsController,
    OrderLookupController,
    OrdersController,
    PaymentsController,
)
from citadel.pricing.routes import CouponsController, PriceListsController
from citadel.search import service as search_service
from citadel.search.routes import SearchAdminController, SearchController
from citadel.settings import Settings
from citadel.shipping.routes import ShippingMethodsController, ShippingZonesController
from citadel.system.routes import SystemController
from citadel.tax.routes import TaxRulesController
from citadel.users.routes import MeController, UsersAdminController
from citadel.vendors.routes import (
    CommissionRulesController,
    PayoutsController,
    VendorsController,
    VendorSelfController,
)

CONTROLLERS: list[type[Controller] | WebsocketRouteHandler] = [
    SystemController,
    AuthController,
    PasswordController,
    MeController,
    UsersAdminController,
    CategoriesController,
    CategoriesAdminController,
    ProductsController,
    VendorProductsController,
    WarehousesController,
    InventoryController,
    TransfersController,
    SearchController,
    SearchAdminController,
    TaxRulesController,
    ShippingZonesController,
    ShippingMethodsController,
    PriceListsController,
    CouponsController,
    CartController,
    CheckoutController,
    OrdersController,
    OrderLookupController,
    FulfilmentsController,
    PaymentsController,
    NotificationsController,
    VendorsController,
    VendorSelfController,
    CommissionRulesController,
    PayoutsController,
    VendorBulkController,
    live,
]


def create_app(settings: Settings) -> Litestar:
    runtime = Runtime(settings, cache_topics=CACHE_TOPICS)
    runtime.tally.register(search_service.STATS_KIND, search_service.flush_query_stats)
    app = Litestar(
        route_handlers=CONTROLLERS,
        dependencies={
            "conn": Provide(provide_conn),
            "tx": Provide(provide_tx),
            "runtime": Provide(provide_runtime),
            "principal": Provide(provide_principal),
            "shopper": Provide(provide_principal_or_guest),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[runtime.lifespan],
        state=State({"runtime": runtime}),
        request_max_body_size=settings.max_body_bytes,
        cors_config=(
            CORSConfig(
                allow_origins=list(settings.cors_origins),
                allow_credentials=True,
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    "X-CSRF-Token",
                    "Idempotency-Key",
                    "X-Request-ID",
                ],
                expose_headers=["X-Request-ID", "Retry-After", "ETag"],
            )
            if settings.cors_origins
            else None
        ),
        openapi_config=OpenAPIConfig(
            title="Citadel",
            version=__version__,
            description="A fast, correct commerce API.",
            path="/api/docs",
            render_plugins=[ScalarRenderPlugin()],
        ),
        logging_config=None,
        debug=False,
    )
    app.asgi_handler = EdgeMiddleware(app.asgi_handler, runtime)
    return app


def create_app_from_env() -> Litestar:
    """Entry point of Granian workers: settings from ``CITADEL_*`` variables. The worker's
    collector is tuned once the app is built (see ``kit.collector``)."""
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    tune_for_serving()
    return app
