"""What vitco talks to beyond its own process: git, deploy targets, mail. Each subpackage is a
protocol and its adapters (``integrations.git``, ``integrations.deploy``,
``integrations.mail``)."""
