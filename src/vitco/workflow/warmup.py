"""What a worker does once, before it says it is ready: what every run needs and a process
keeps, made now, so that its first run costs what its later ones do.

A process's first run used to make it on its way: the workflow templates compiled to graphs,
the roles read, the toolchains' contracts (the host's installed packages read from their
metadata), the mail templates compiled by Jinja, the CA bundle of the runs' HTTP clients, and
the modules all of that imports. On ``bench/scale.py``'s runs a worker's first run took about
0.6 s of CPU more than its later ones (0.2 s in one process running the runs by itself), on
the run's critical path; a fleet scaling out starts its new workers at once, so on two cores
four of them spent it together while their first runs waited. What is left of the gap is
SQLAlchemy's and psycopg's statement caches, which only the statements themselves fill.

Nothing here opens a connection or writes anything: a template that does not compile is left
for its run to report, as before.
"""

from __future__ import annotations

import logging

from vitco.agents.role import ROLES_DIR, load_role
from vitco.context.roles import toolchain_choices
from vitco.integrations.mail import templates as mail_templates
from vitco.workflow.compile import compile_workflow
from vitco.workflow.services import Services
from vitco.workflow.template import template_files

logger = logging.getLogger("vitco.workflow")


def warm(services: Services) -> None:
    """Compile every workflow template of the data dir and the built-in ones, read every
    role, the toolchains' contracts and the mail templates, load the CA bundle (each is kept
    for the process)."""
    home = services.settings.home
    for name in template_files(home):
        try:
            compile_workflow(name, home)
        except Exception as exc:  # a broken user template: its runs say what is wrong
            logger.info("workflow %s not compiled ahead: %s", name, exc)
    for folder in sorted(ROLES_DIR.iterdir()):
        if (folder / "role.toml").is_file():
            load_role(folder.name)
    toolchain_choices()
    env = mail_templates.environment()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)
    services.http().close()  # the first client loads the CA bundle, which the later share
