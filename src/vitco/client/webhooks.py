"""The client's methods for webhooks in (``/v1/hooks``) and out (``/v1/webhooks``), mixed
into ``VitcoClient``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vitco.api.schemas import ItemsPublic, PagePublic
from vitco.api.webhook_schemas import (
    HookAnswer,
    HookDeliveryPublic,
    HookSourceCreated,
    HookSourcePublic,
    WebhookCreated,
    WebhookDeliveryPublic,
    WebhookPublic,
)
from vitco.client.transport import Transport, error_of, operation


class WebhookMethods:
    transport: Transport

    @operation("POST /v1/hooks/{source}")
    def deliver_hook(
        self, source: str, tenant: str, body: bytes, headers: Mapping[str, str]
    ) -> HookAnswer:
        """Post a delivery signed by the caller (as a sender would: no key is needed)."""
        answer = self.transport.http.post(
            f"/v1/hooks/{source}", params={"tenant": tenant}, content=body, headers=dict(headers)
        )
        if not answer.is_success:
            raise error_of(answer)
        return HookAnswer.model_validate_json(answer.content)

    @operation("GET /v1/hooks")
    def hook_sources(self) -> list[HookSourcePublic]:
        page = self.transport.model(ItemsPublic[HookSourcePublic], "GET", "/v1/hooks")
        return page.items

    @operation("PUT /v1/hooks/{source}/secret")
    def set_hook_secret(self, source: str, secret: str | None = None) -> HookSourceCreated:
        """Set the secret ``source`` signs with (None: the server makes one, answered once)."""
        body = {"secret": secret} if secret else None
        path = f"/v1/hooks/{source}/secret"
        return self.transport.model(HookSourceCreated, "PUT", path, json=body)

    @operation("DELETE /v1/hooks/{source}/secret")
    def delete_hook_secret(self, source: str) -> HookSourcePublic:
        path = f"/v1/hooks/{source}/secret"
        return self.transport.model(HookSourcePublic, "DELETE", path)

    @operation("GET /v1/hooks/deliveries")
    def hook_deliveries(
        self, *, source: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> PagePublic[HookDeliveryPublic]:
        params: dict[str, Any] = {"source": source, "limit": limit, "cursor": cursor}
        model = PagePublic[HookDeliveryPublic]
        return self.transport.model(model, "GET", "/v1/hooks/deliveries", params=params)

    @operation("POST /v1/webhooks")
    def subscribe(self, url: str, events: list[str], *, description: str = "") -> WebhookCreated:
        body = {"url": url, "events": events, "description": description}
        return self.transport.model(WebhookCreated, "POST", "/v1/webhooks", json=body)

    @operation("GET /v1/webhooks")
    def webhooks(self, *, limit: int = 50, cursor: str | None = None) -> PagePublic[WebhookPublic]:
        params = {"limit": limit, "cursor": cursor}
        return self.transport.model(PagePublic[WebhookPublic], "GET", "/v1/webhooks", params=params)

    @operation("GET /v1/webhooks/{webhook_id}")
    def webhook(self, webhook_id: str) -> WebhookPublic:
        return self.transport.model(WebhookPublic, "GET", f"/v1/webhooks/{webhook_id}")

    @operation("DELETE /v1/webhooks/{webhook_id}")
    def unsubscribe(self, webhook_id: str) -> WebhookPublic:
        return self.transport.model(WebhookPublic, "DELETE", f"/v1/webhooks/{webhook_id}")

    @operation("GET /v1/webhooks/{webhook_id}/deliveries")
    def webhook_deliveries(
        self, webhook_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> PagePublic[WebhookDeliveryPublic]:
        path = f"/v1/webhooks/{webhook_id}/deliveries"
        params = {"limit": limit, "cursor": cursor}
        return self.transport.model(PagePublic[WebhookDeliveryPublic], "GET", path, params=params)
