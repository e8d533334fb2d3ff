"""The project-level steps: analyze -> plan -> (tasks) -> integrate -> deploy -> deliver.

``dispatch`` fans the plan's ready tasks out to the task subgraph (LangGraph ``Send``), up to the
configured parallelism; when no task is left it moves on to integration, or ends the run
``needs_attention`` when a task is blocked.
"""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from vitco.agents.agent import ask
from vitco.agents.outputs import Plan, Spec, topological_order
from vitco.agents.role import load_role
from vitco.llm.model import CallKey
from vitco.toolchains import Shipment, TestReport, Toolchain, available, get_toolchain
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import RunState

Update = dict[str, Any]


class ProjectSteps:
    """Node functions of the run graph, bound to a runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._artifact = lru_cache(maxsize=16)(rt.store.get_artifact)

    def _brief_text(self) -> str:
        run = self.rt.store.get_run(self.rt.run_id)
        return self.rt.store.get_brief(run.brief_id).text

    def _existing_files(self) -> list[str]:
        """The repository's files when the run started from existing code (add-feature,
        fix-bug); empty for a new project, whose only file is vitco's .gitignore."""
        files = self.rt.base.files()
        return [] if files in ([], [".gitignore"]) else files

    def _toolchain(self, state: RunState) -> Toolchain:
        return get_toolchain(Plan.model_validate(self._artifact(state["plan"])).toolchain)

    def _existing_code(self) -> dict[str, str]:
        return self.rt.base.read_files(limit_bytes=60_000) if self._existing_files() else {}

    # nodes ------------------------------------------------------------------------------------

    def analyze(self, state: RunState) -> Update:
        rt = self.rt
        rt.emit("step", "analyst reads the brief", step="analyze")
        answer = ask(
            rt.model,
            load_role("analyst"),
            Spec,
            CallKey(role="analyst", step="analyze"),
            {"Brief": self._brief_text(), "Existing code": self._existing_code()},
        )
        ref = rt.store.put_artifact(rt.run_id, "spec", answer.output.model_dump())
        rt.emit("spec", f"spec: {answer.output.title} ({len(answer.output.user_stories)} stories)")
        return {"spec": ref}

    def plan(self, state: RunState) -> Update:
        rt = self.rt
        rt.emit("step", "manager plans the work", step="plan")
        answer = ask(
            rt.model,
            load_role("manager"),
            Plan,
            CallKey(role="manager", step="plan"),
            {
                "Specification": rt.store.get_artifact(state["spec"]),
                "Existing files": self._existing_files(),
                "Toolchains": toolchain_choices(),
            },
            context={"toolchains": [t.name for t in available()]},
        )
        plan = answer.output
        rt.store.add_tasks(
            rt.run_id,
            [
                {
                    "key": t.id,
                    "title": t.title,
                    "role": t.role,
                    "complexity": t.complexity,
                    "depends_on": t.depends_on,
                }
                for t in plan.tasks
            ],
        )
        ref = rt.store.put_artifact(rt.run_id, "plan", plan.model_dump())
        rt.emit(
            "plan",
            f"plan: {len(plan.tasks)} tasks with the {plan.toolchain} toolchain",
            data={"tasks": [t.id for t in plan.tasks], "toolchain": plan.toolchain},
        )
        return {"plan": ref}

    def schedule(self, state: RunState) -> Update:
        return {}

    def dispatch(self, state: RunState) -> list[dict[str, Any]] | str:
        """The ready tasks' inputs (up to the parallelism limit), or the map's outcome when
        none is ready: ``all_done``, or ``blocked`` when a task needs attention."""
        plan = Plan.model_validate(self._artifact(state["plan"]))
        done, blocked = set(state.get("done", [])), set(state.get("blocked", []))
        ready = [
            t.id
            for t in (plan.task(i) for i in topological_order(plan.tasks))
            if t.id not in done | blocked and all(d in done for d in t.depends_on)
        ]
        if ready:
            return [
                {"run_id": state["run_id"], "task": t, "spec": state["spec"], "plan": state["plan"]}
                for t in ready[: self.rt.settings.max_parallel]
            ]
        return "all_done" if len(done) == len(plan.tasks) else "blocked"

    def stuck(self, state: RunState) -> Update:
        blocked = sorted(state.get("blocked", []))
        reasons = [
            f"{t.key}: {t.reason}" for t in self.rt.store.tasks(self.rt.run_id) if t.key in blocked
        ]
        return {"status": "needs_attention", "reason": "; ".join(reasons) or "tasks blocked"}

    def integrate(self, state: RunState) -> Update:
        rt = self.rt
        rt.emit("step", "running the whole test suite on main", step="integrate")
        began = time.monotonic()
        report = self._toolchain(state).test(rt.tools, rt.base.path)
        rt.add_time("tests", time.monotonic() - began)
        ref = rt.store.put_artifact(rt.run_id, "test_report", report.model_dump())
        rt.emit(
            "tests",
            f"main: {report.summary()}",
            step="integrate",
            data={"passed": report.passed, "failed": report.failed},
        )
        if report.ok:
            return {"tests": ref, "outcome": "passed"}
        reason = f"integration: {report.summary()}"
        return {"tests": ref, "outcome": "failed", "status": "needs_attention", "reason": reason}

    def deploy(self, state: RunState) -> Update:
        """Deliver the project the way its toolchain does: DevOps says how (when the toolchain
        needs a plan: how to start and check a service, how to invoke a command), then the
        toolchain builds, starts or installs it and checks the result."""
        rt = self.rt
        toolchain = self._toolchain(state)
        rt.emit("step", f"devops delivers the project ({toolchain.name})", step="deploy")
        plan: BaseModel | None = None
        if toolchain.plan_type is not None:
            spec = Spec.model_validate(rt.store.get_artifact(state["spec"]))
            plan = ask(
                rt.model,
                load_role("devops"),
                toolchain.plan_type,
                CallKey(role="devops", step="deploy"),
                {
                    "Project": spec.summary,
                    "Environment": toolchain.contract().render(),
                    "Repository files": rt.base.files(),
                },
            ).output
        return {"deploy": self.ship(toolchain, plan)}

    def ship(self, toolchain: Toolchain, plan: BaseModel | None) -> str:
        """Deliver and check the run's branch with ``toolchain``; returns the delivery
        artifact's id (also used to bring a delivered run's app back up)."""
        rt = self.rt
        began = time.monotonic()
        shipment, _process = toolchain.ship(rt.tools, rt.base.path, plan)  # in rt.processes
        rt.add_time("deploy", time.monotonic() - began)
        content = shipment.model_dump() | {
            "smoke_ok": shipment.ok,
            "toolchain": toolchain.name,
            "plan": plan.model_dump() if plan is not None else None,
        }
        ref = rt.store.put_artifact(rt.run_id, "deployment", content)
        if shipment.url:
            rt.store.update_run(rt.run_id, url=shipment.url)
        rt.emit("deploy", shipment.summary, step="deploy")
        return ref

    def restart_app(self) -> str | None:
        """Start the app of a delivered run again from its recorded plan, e.g. when a run
        resumed after a crash is to keep serving; None if it never started one."""
        deployments = self.rt.store.artifacts(self.rt.run_id, "deployment")
        if not deployments or deployments[-1].content.get("kind", "service") != "service":
            return None
        content = deployments[-1].content
        toolchain = get_toolchain(content.get("toolchain", "python-service"))
        if toolchain.plan_type is None:
            return None
        return self.ship(toolchain, toolchain.plan_type.model_validate(content["plan"]))

    def deliver(self, state: RunState) -> Update:
        rt = self.rt
        rt.base.tag("delivered" if rt.branch == "main" else f"delivered-{rt.run_id}", rt.branch)
        run = rt.store.get_run(rt.run_id)
        client_name, client_email = parseaddr(rt.store.get_project(rt.project_id).client)
        spec = Spec.model_validate(rt.store.get_artifact(state["spec"]))
        tests = TestReport.model_validate(rt.store.get_artifact(state["tests"]))
        if state.get("deploy"):  # fix-bug delivers without deploying
            shipment = Shipment.model_validate(rt.store.get_artifact(state["deploy"]))
            checks = "passed" if shipment.ok else "FAILED"
            deployed = f"Delivery: {shipment.summary} (checks {checks})\n"
        else:
            deployed = "Delivery: none in this workflow\n"
        message = EmailMessage()
        message["From"] = formataddr(("vitco delivery", "delivery@vitco.local"))
        message["To"] = formataddr((client_name, client_email))
        message["Subject"] = f"Delivered: {spec.title}"
        message["Message-ID"] = make_msgid(idstring=rt.run_id, domain="vitco.local")
        message.set_content(
            f"Hello {client_name},\n\n"
            f'your project "{spec.title}" is delivered.\n\n'
            f"{spec.summary}\n\n"
            f"Repository: {rt.repo_path} (branch {rt.branch}, tagged delivered)\n"
            f"Tests: {tests.summary()}\n"
            f"{deployed}"
            f"Run: {run.id}\n\n"
            "The delivery report lists every task, commit and what the work cost.\n\n"
            "-- vitco\n"
        )
        rt.fault("before-mail")
        key = f"{rt.run_id}/delivery"
        # journaled as a side effect; the outbox also finds an existing file by its key
        path = rt.store.once(rt.run_id, key, lambda: {"path": rt.mailer.send(message, key=key)})[
            "path"
        ]
        rt.store.put_artifact(rt.run_id, "mail", {"path": path, "to": client_email})
        rt.emit("mail", f"delivery mail written to {path}", step="deliver")
        return {"mail": path, "status": "delivered"}


def toolchain_choices() -> str:
    """The manager's menu: each toolchain's name, what it is for and how it delivers."""
    return "\n\n".join(f"### {t.name}\n{t.summary}.\n{t.contract().render()}" for t in available())
