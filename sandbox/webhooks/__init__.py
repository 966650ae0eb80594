"""Webhook receiver: stands in for Slack incoming webhooks, Discord webhooks and signed generic webhooks."""
