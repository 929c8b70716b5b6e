"""Per-cloud monitoring building blocks: alarm topics, alarms and dashboards, rendered from pure definitions."""
