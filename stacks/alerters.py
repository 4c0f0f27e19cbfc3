"""A ZenML alerter flavor that posts to an incoming webhook: ``webhook``.

ZenML ships alerters for Slack's and Discord's bot APIs only. Most chat and incident tools
(Slack, Mattermost, Rocket.Chat and Microsoft Teams' workflows) also accept an *incoming
webhook*: an HTTPS URL that takes ``POST {"text": "<message>"}``. This flavor speaks exactly
that, so a team can route pipeline failures to the tool it already uses, and so the failure
path can be tested against a real HTTP server on loopback.

`python -m stacks.register <stack>` (and so `make run`) registers the flavor. Use it (the URL is a
secret in most tools, so keep it in a ZenML secret)::

    zenml secret create team_webhook --url=https://hooks.example.com/services/...
    zenml alerter register team_alerts --flavor webhook --url='{{team_webhook.url}}'
    zenml stack update local -al team_alerts

A webhook is one-way: ``ask`` cannot wait for an answer, so it posts the question and returns
False (never an approval nobody gave).
"""

from __future__ import annotations

from typing import Optional, Type

import requests
from zenml.alerter.base_alerter import BaseAlerter, BaseAlerterConfig, BaseAlerterFlavor, BaseAlerterStepParameters
from zenml.logger import get_logger
from zenml.utils.secret_utils import SecretField

logger = get_logger(__name__)

class WebhookAlerterConfig(BaseAlerterConfig):
    """``url``: the incoming webhook (a secret reference is resolved by ZenML); ``timeout_seconds``:
    how long one post may take before the alert counts as undelivered."""

    url: str = SecretField()
    timeout_seconds: float = 10.0


class WebhookAlerter(BaseAlerter):
    """Posts ``{"text": message}`` to the configured URL."""

    @property
    def config(self) -> WebhookAlerterConfig:
        return self._config  # type: ignore[return-value]

    def post(self, message: str, params: Optional[BaseAlerterStepParameters] = None) -> bool:
        """True when the webhook accepted the message (2xx). A refused or unreachable webhook is
        logged with its reason and gives False: an alert must never replace the error it reports."""
        try:
            response = requests.post(self.config.url, json={"text": message}, timeout=self.config.timeout_seconds)
        except requests.RequestException as error:
            logger.warning("alerter '%s' could not reach its webhook: %s", self.name, type(error).__name__)
            return False
        if not response.ok:
            logger.warning("alerter '%s': the webhook answered HTTP %s", self.name, response.status_code)
            return False
        return True

    def ask(self, question: str, params: Optional[BaseAlerterStepParameters] = None) -> bool:
        self.post(question, params)
        logger.warning("alerter '%s' is a one-way webhook: it cannot collect an approval, so the answer is no",
                       self.name)
        return False


class WebhookAlerterFlavor(BaseAlerterFlavor):
    @property
    def name(self) -> str:
        return "webhook"

    @property
    def config_class(self) -> Type[WebhookAlerterConfig]:
        return WebhookAlerterConfig

    @property
    def implementation_class(self) -> Type[WebhookAlerter]:
        return WebhookAlerter
