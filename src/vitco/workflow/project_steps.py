"""The project-level steps: analyze -> plan -> (tasks) -> integrate -> deploy -> deliver.

Each is registered with ``@step`` (see ``steps``). ``ready_tasks`` is the collection a map of
the plan's tasks iterates: the tasks whose dependencies are done, up to the configured
parallelism; when none is left the map goes on to integration (``all_done``), or to ``stuck``
when a task needs attention (``blocked``).
"""

from __future__ import annotations

import io
import time
from email.utils import parseaddr
from typing import Any

from pydantic import BaseModel

from vitco import context
from vitco.agents.agent import ask
from vitco.agents.outputs import Plan, Spec, topological_order
from vitco.agents.role import load_role
from vitco.integrations.git.archive import archive_prefix, write_archive
from vitco.integrations.mail import MailNotRelayed
from vitco.llm.model import CallKey
from vitco.sandbox.protocol import Process
from vitco.toolchains import (
    DeployPlan,
    Shipment,
    TestReport,
    Toolchain,
    available,
    get_toolchain,
)
from vitco.workflow import notices
from vitco.workflow.delivery_mail import Delivered, delivery_mail
from vitco.workflow.publish import comment_delivery, issue_of
from vitco.workflow.release import to_target
from vitco.workflow.runtime import Runtime
from vitco.workflow.state import RunState, current_spec
from vitco.workflow.steps import collection, step

Update = dict[str, Any]


def _toolchain(rt: Runtime, state: RunState) -> Toolchain:
    return get_toolchain(Plan.model_validate(rt.artifact(state["plan"])).toolchain)


# nodes ------------------------------------------------------------------------------------


@step("analyze", level="project", role="analyst")
def analyze(rt: Runtime, state: RunState) -> Update:
    rt.emit("step", "analyst reads the brief", step="analyze")
    answer = ask(
        rt.model,
        load_role("analyst"),
        Spec,
        CallKey(role="analyst", step="analyze"),
        context.analyst(rt),
    )
    ref = rt.store.put_artifact(rt.run_id, "spec", answer.output.model_dump())
    rt.emit("spec", f"spec: {answer.output.title} ({len(answer.output.user_stories)} stories)")
    return {"spec": ref}


@step("plan", level="project", role="manager")
def plan(rt: Runtime, state: RunState) -> Update:
    rt.emit("step", "manager plans the work", step="plan")
    answer = ask(
        rt.model,
        load_role("manager"),
        Plan,
        CallKey(role="manager", step="plan"),
        context.manager(rt, state),
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
    notices.plan_ready(rt, plan)
    return {"plan": ref}


@collection("ready_tasks", outcomes=("all_done", "blocked"))
def ready_tasks(rt: Runtime, state: RunState) -> list[dict[str, Any]] | str:
    """The ready tasks' inputs (up to the parallelism limit), or the map's outcome when
    none is ready: ``all_done``, or ``blocked`` when a task needs attention."""
    plan = Plan.model_validate(rt.artifact(state["plan"]))
    done, blocked = set(state.get("done", [])), set(state.get("blocked", []))
    ready = [
        t.id
        for t in (plan.task(i) for i in topological_order(plan.tasks))
        if t.id not in done | blocked and all(d in done for d in t.depends_on)
    ]
    if ready:
        spec = current_spec(state)  # a dispute in an earlier task may have amended it
        return [
            {"run_id": state["run_id"], "task": t, "spec": spec, "plan": state["plan"]}
            for t in ready[: rt.settings.max_parallel]
        ]
    return "all_done" if len(done) == len(plan.tasks) else "blocked"


@step("stuck", level="project")
def stuck(rt: Runtime, state: RunState) -> Update:
    blocked = sorted(state.get("blocked", []))
    reasons = [f"{t.key}: {t.reason}" for t in rt.store.tasks(rt.run_id) if t.key in blocked]
    return {"status": "needs_attention", "reason": "; ".join(reasons) or "tasks blocked"}


@step("integrate", level="project", outcomes=("passed", "failed"))
def integrate(rt: Runtime, state: RunState) -> Update:
    rt.emit("step", "running the whole test suite on main", step="integrate")
    began = time.monotonic()
    report = _toolchain(rt, state).test(rt.tools, rt.base.path)
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


@step("deploy", level="project", role="devops")
def deploy(rt: Runtime, state: RunState) -> Update:
    """Deliver the project the way its toolchain does: DevOps says how (when the toolchain
    needs a plan: how to start and check a service, how to invoke a command), then the
    toolchain builds, starts or installs it and checks the result."""
    toolchain = _toolchain(rt, state)
    rt.emit("step", f"devops delivers the project ({toolchain.name})", step="deploy")
    plan: BaseModel | None = None
    if toolchain.plan_type is not None:
        plan = ask(
            rt.model,
            load_role("devops"),
            toolchain.plan_type,
            CallKey(role="devops", step="deploy"),
            context.devops(rt, state),
        ).output
        spec = Spec.model_validate(rt.artifact(state["spec"]))
        if spec.persistent_data and isinstance(plan, DeployPlan) and not plan.persistent_data:
            # the spec asks for it: the restart is checked whatever DevOps said
            plan = plan.model_copy(update={"persistent_data": True})
    return {"deploy": ship(rt, toolchain, plan)}


def ship(rt: Runtime, toolchain: Toolchain, plan: BaseModel | None) -> str:
    """Deliver and check the run's branch with ``toolchain``; returns the delivery
    artifact's id (also used to bring a delivered run's app back up)."""
    began = time.monotonic()
    shipment, process = toolchain.ship(rt.tools, rt.base.path, plan)  # in rt.processes
    rt.add_time("deploy", time.monotonic() - began)
    if rt.deploy_target is not None:  # checked here, shipped there (the app here stops)
        shipment = to_target(rt, shipment, plan)
    elif process is not None and shipment.ok and rt.deployments is not None:
        shipment = _supervised(rt, toolchain, plan, shipment, process)
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


def _supervised(
    rt: Runtime, toolchain: Toolchain, plan: BaseModel | None, shipment: Shipment, process: Process
) -> Shipment:
    """Under ``vitco serve``: the app that passed its checks is handed to the supervisor,
    which keeps it up at the project's stable URL from now on (the run no longer stops it);
    the delivery (and so the report and the mail) names that URL."""
    assert rt.deployments is not None
    url = rt.deployments.adopt(
        project_id=rt.project_id,
        run_id=rt.run_id,
        root=rt.base.path,
        toolchain=toolchain.name,
        plan=plan.model_dump() if plan is not None else None,
        process=process,
    )
    if url is None:
        return shipment
    rt.disown(process)
    summary = shipment.summary.replace(shipment.url, url) if shipment.url else shipment.summary
    return shipment.model_copy(update={"url": url, "summary": summary})


def restart_app(rt: Runtime) -> str | None:
    """Start the app of a delivered run again from its recorded plan, e.g. when a run
    resumed after a crash is to keep serving; None if it never started one."""
    deployments = rt.store.artifacts(rt.run_id, "deployment")
    if not deployments or deployments[-1].content.get("kind", "service") != "service":
        return None
    content = deployments[-1].content
    toolchain = get_toolchain(content.get("toolchain", "python-service"))
    if toolchain.plan_type is None:
        return None
    return ship(rt, toolchain, toolchain.plan_type.model_validate(content["plan"]))


def repo_key(tenant_id: str, run_id: str) -> str:
    """Where a delivered run's repository tarball is kept in the artifact store."""
    return f"{tenant_id}/{run_id}/repo.tar.gz"


def publish_repo(rt: Runtime) -> None:
    """Keep the delivered commit's tree as a ``.tar.gz`` in the artifact store (what the API's
    ``/runs/{id}/repo`` serves from then on); archived from git's objects, never the working
    tree, so nothing a model planted there (a link, an untracked file) is shipped. Putting
    the same key again on a resume replaces it with the same bytes."""
    if rt.artifacts is None:
        return
    project = rt.store.get_project(rt.project_id)
    buffer = io.BytesIO()
    commit = write_archive(
        rt.base, rt.branch, buffer, prefix=archive_prefix(project.name, project.id)
    )
    key = repo_key(project.tenant_id, rt.run_id)
    rt.artifacts.put(key, buffer.getvalue(), "application/gzip")
    content = {"key": key, "commit": commit, "size": buffer.tell()}
    rt.store.put_artifact(rt.run_id, "stored", content)


@step("deliver", level="project")
def deliver(rt: Runtime, state: RunState) -> Update:
    tag = "delivered" if rt.branch == "main" else f"delivered-{rt.run_id}"
    rt.base.tag(tag, rt.branch)
    publish_repo(rt)
    _comment(rt, state)
    client_name, client_email = parseaddr(rt.store.get_project(rt.project_id).client)
    if not client_email:
        rt.emit(
            "warning",
            "no delivery mail: the brief names no client (front matter "
            "'client: Name <address>'; see docs/briefs.md)",
            step="deliver",
        )
        return {"status": "delivered"}
    message = delivery_mail(
        _delivered(rt, state, tag, client_name, client_email), sender=rt.settings.mail_from
    )
    rt.fault("before-mail")
    key = f"{rt.run_id}/delivery"
    # journaled as a side effect; the outbox also finds an existing file by its key
    try:
        path = rt.store.once(rt.run_id, key, lambda: {"path": rt.mailer.send(message, key=key)})[
            "path"
        ]
    except MailNotRelayed as exc:  # kept in the outbox, the failure recorded and shown
        rt.store.put_artifact(rt.run_id, "mail", {"path": exc.path, "to": client_email,
                                                  "error": str(exc.cause)})  # fmt: skip
        rt.emit("warning", rt.public(f"delivery mail not sent: {exc.cause}; "
                f"kept in {exc.path}"), step="deliver")  # fmt: skip
        return {"mail": exc.path, "status": "delivered"}
    rt.store.put_artifact(rt.run_id, "mail", {"path": path, "to": client_email})
    rt.emit("mail", rt.public(f"delivery mail written to {path}"), step="deliver")
    return {"mail": path, "status": "delivered"}


def _comment(rt: Runtime, state: RunState) -> None:
    """Tell the issue the run came from (if it came from one) that it is delivered."""
    source = rt.store.get_brief(rt.store.get_run(rt.run_id).brief_id).source
    if issue_of(source) is None:
        return
    spec = Spec.model_validate(rt.store.get_artifact(current_spec(state)))
    tests = TestReport.model_validate(rt.store.get_artifact(state["tests"]))

    def text(url: str) -> str:
        return (
            f"Delivered by vitco: {spec.title}\n\nRepository: {url} (branch {rt.branch})\n"
            f"Tests: {tests.summary()}\nRun: {rt.run_id}"
        )

    comment_delivery(rt, source, text)


def _public_repo(rt: Runtime) -> str:
    """Where the client gets the repository: the git host's clone URL when it has a web one
    (GitHub), else the API's download of the run's archive (a local bare repository's
    address is a path of vitco's host)."""
    hosted = rt.store.get_effect(f"githost/{rt.project_id}/repo") if rt.git_host else None
    url = str((hosted or {}).get("clone_url") or "")
    return url if url.startswith(("https://", "http://")) else f"/v1/runs/{rt.run_id}/repo"


def _delivered(rt: Runtime, state: RunState, tag: str, name: str, email: str) -> Delivered:
    spec = Spec.model_validate(rt.store.get_artifact(current_spec(state)))
    tests = TestReport.model_validate(rt.store.get_artifact(state["tests"]))
    shipment, plan = None, None
    if state.get("deploy"):  # fix-bug delivers without deploying
        content = rt.store.get_artifact(state["deploy"])
        shipment, plan = Shipment.model_validate(content), content.get("plan")
    cost = rt.store.cost_breakdown(by="run", run_id=rt.run_id)
    return Delivered(
        run_id=rt.run_id,
        client_name=name or email,
        client_email=email,
        title=spec.title,
        summary=spec.summary,
        repo=_public_repo(rt),
        branch=rt.branch,
        tag=tag,
        tests=tests.summary(),
        shipment=shipment,
        plan=plan,
        usd=sum(row["usd"] for row in cost),
        calls=sum(row["calls"] for row in cost),
        input_tokens=sum(row["input_tokens"] for row in cost),
        output_tokens=sum(row["output_tokens"] for row in cost),
    )
