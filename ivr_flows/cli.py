"""``hotline ivr``: the FastAGI server, prompt rendering and flow checking."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click

from ivr_flows.flow_model import FlowError, load_flow_file
from ivr_flows.registry import PACKAGED_FLOWS, FlowRegistry

log = logging.getLogger(__name__)


@click.group(invoke_without_command=True)
@click.pass_context
def ivr(ctx: click.Context) -> None:
    """语音导航 (FastAGI) / the IVR: without a subcommand, serve calls."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@ivr.command()
@click.option("--host", default=None, help="监听地址 / bind address (HOTLINE_AGI_HOST)")
@click.option("--port", default=None, type=int, help="监听端口 / port (HOTLINE_AGI_PORT, 4573)")
def serve(host: str | None, port: int | None) -> None:
    """运行 FastAGI 服务 / run the FastAGI server until SIGTERM or Ctrl-C."""
    from ivr_flows.server import FastAgiServer
    from platform_core.runtime import build_runtime, install_runtime
    from platform_core.settings import load_settings

    runtime = build_runtime(load_settings())
    install_runtime(runtime)
    server = FastAgiServer(runtime, host=host, port=port)
    for path, error in server.registry.errors().items():
        click.echo(f"流程无效, 未加载 / refused flow {path}: {'; '.join(error.problems)}", err=True)
    for flow in server.registry.flows():
        for missing in server.prompts.missing(flow):
            log.warning(
                "流程 %s 缺少提示音文件 / flow %s has no sound file for %s (run: hotline ivr prompts)",
                flow.name,
                flow.name,
                missing,
            )

    from platform_core import observability

    def figures() -> dict[str, Any]:
        st = server.stats
        return {"sessions": st.sessions, "active": st.active, "outcomes": dict(st.outcomes)}

    observability.register_once(
        "ivr",
        observability.StatsCollector(
            "hotline_ivr", figures, is_counter=lambda name: name != "active"
        ),
    )
    operations = observability.serve_operations(runtime)

    async def main() -> None:
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        serving = asyncio.create_task(server.serve_forever())
        await stop.wait()
        log.info("正在停止 FastAGI 服务 / stopping the FastAGI server")
        await server.stop()
        serving.cancel()

    try:
        asyncio.run(main())
    finally:
        if operations is not None:
            operations.stop()
        runtime.close()


@ivr.command()
@click.option(
    "--flows",
    "flows_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="流程目录 / flow directory (default: HOTLINE_IVR_FLOWS_DIR or the packaged flows)",
)
@click.option(
    "--out",
    "sounds_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="声音目录 / sounds directory (default: HOTLINE_IVR_SOUNDS_DIR)",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="覆盖已有文件 (包括真人录音) / replace existing files, recordings too",
)
def prompts(flows_dir: Path | None, sounds_dir: Path | None, overwrite: bool) -> None:
    """用 espeak-ng 生成普通话提示音 / render the Mandarin prompts (8 kHz WAV) with espeak-ng."""
    from ivr_flows.prompts import PromptConflict, render_prompts
    from platform_core.settings import load_settings

    settings = load_settings(ensure_secrets=False)
    directory = flows_dir or (
        Path(settings.ivr_flows_dir) if settings.ivr_flows_dir else PACKAGED_FLOWS
    )
    out = sounds_dir or settings.ivr_sounds_dir
    registry = FlowRegistry(directory)
    for path, error in registry.errors().items():
        raise click.ClickException(f"流程无效 / invalid flow {path}: {'; '.join(error.problems)}")
    try:
        rendered = render_prompts(registry.flows(), out, language="zh", overwrite=overwrite)
    except (PromptConflict, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    for item in rendered:
        click.echo(f"{item.path}  {item.seconds:.1f}s")
    click.echo(
        f"已生成 {len(rendered)} 个提示音 / rendered {len(rendered)} prompts into {out / 'zh'}"
    )


@ivr.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """检查流程文件 / validate a flow file; exit status 1 when it would be refused."""
    try:
        flow = load_flow_file(file)
    except FlowError as exc:
        click.echo(f"流程无效 / invalid flow: {file}", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    menus = sum(1 for s in flow.steps.values() if s.type == "menu")
    click.echo(
        f"流程有效 / valid flow: {flow.name} (version {flow.version}): {len(flow.steps)} steps, "
        f"{menus} menus, {len(flow.prompts)} prompts"
    )
