"""Liveness, readiness, Prometheus metrics and service information."""

from litestar import Controller, Response, get

from citadel import __version__
from citadel.kit.runtime import RuntimeDep
from citadel.system import service
from citadel.system.models import Health, Info, Readiness

INFO = Info(name="citadel", version=__version__, api_version="v1")


class SystemController(Controller):
    path = "/"
    tags = ["system"]

    @get("/healthz", operation_id="liveness", summary="The process answers")
    async def healthz(self) -> Health:
        return Health(status="ok")

    @get("/readyz", operation_id="readiness", summary="PostgreSQL, Redis and NATS are reachable")
    async def readyz(self, runtime: RuntimeDep) -> Response[Readiness]:
        result = await service.readiness(runtime)
        return Response(result, status_code=200 if result.status == "ready" else 503)

    @get(
        "/metrics",
        operation_id="metrics",
        summary="Prometheus metrics of every worker",
        media_type="text/plain",
    )
    async def metrics(self, runtime: RuntimeDep) -> Response[bytes]:
        gauges = await service.scrape_gauges(runtime)
        return Response(runtime.metrics.render(gauges), media_type="text/plain; version=0.0.4; charset=utf-8")

    @get("/api/v1/info", operation_id="info", summary="Service name and versions")
    async def info(self) -> Info:
        return INFO
