"""Every API subcommand of ``orgo-async``, run as a subprocess against the emulator."""

from __future__ import annotations

import wave
from pathlib import Path

from orgo_async.testing import FakeOrgo, render_screen

from .conftest import Seeded, run_cli

COMPUTER_KEYS = [
    "id", "name", "status", "workspace_id", "project_id", "project_name", "os", "ram", "cpu",
    "disk_size_gb", "resolution", "url", "created_at", "updated_at", "auto_stop_minutes",
    "template_ref", "instance_id", "fly_instance_id", "hostname", "connection_url", "gpu",
    "image", "instance_details",
]  # fmt: skip


async def test_workspaces_list_table_and_json(seeded: Seeded) -> None:
    r = await run_cli(seeded.fake, "workspaces", "list")
    assert r.code == 0, r.stderr
    header, _, row = r.stdout.splitlines()[:3]
    assert header.split() == ["ID", "NAME", "STATUS", "COMPUTERS", "CREATED"]
    assert row.split()[:4] == [seeded.workspace.id, "prod", "active", "2"]

    r = await run_cli(seeded.fake, "--json", "workspaces", "list")  # flag before the command
    (ws,) = r.json()
    assert ws["id"] == seeded.workspace.id and ws["name"] == "prod"
    assert [c["name"] for c in ws["desktops"]] == ["agent-1", "agent-2"]
    assert all(list(c) == COMPUTER_KEYS for c in ws["desktops"])


async def test_workspaces_create_get_delete(fake: FakeOrgo) -> None:
    r = await run_cli(fake, "workspaces", "create", "staging", "--json")
    assert r.code == 0, r.stderr
    ws_id = r.json()["id"]
    assert fake.workspace(ws_id).name == "staging"

    fake.add_computer(ws_id, "inside")
    r = await run_cli(fake, "workspaces", "get", ws_id)
    assert r.code == 0, r.stderr
    assert "staging" in r.stdout and "inside" in r.stdout  # the record, then its computers

    r = await run_cli(fake, "workspaces", "delete", ws_id, "--yes")
    assert (r.code, r.stdout.strip()) == (0, f"deleted workspace {ws_id}")
    assert ws_id not in fake.world.workspaces
    assert fake.world.computers == {}


async def test_computers_list_all_and_per_workspace(seeded: Seeded) -> None:
    other = seeded.fake.add_workspace("other")
    seeded.fake.add_computer(other.id, "elsewhere")
    r = await run_cli(seeded.fake, "computers", "list", "--json")
    assert sorted(c["name"] for c in r.json()) == ["agent-1", "agent-2", "elsewhere"]
    r = await run_cli(seeded.fake, "computers", "list", seeded.workspace.id)
    rows = [line.split() for line in r.stdout.splitlines()[2:]]
    assert [(row[0], row[1], row[2]) for row in rows] == [
        (seeded.running.id, "agent-1", "running"),
        (seeded.stopped.id, "agent-2", "stopped"),
    ]


async def test_computers_get_hides_the_vnc_password_unless_asked(seeded: Seeded) -> None:
    password = seeded.running.vnc_password
    r = await run_cli(seeded.fake, "computers", "get", seeded.running.id)
    assert r.code == 0 and "agent-1" in r.stdout
    assert password not in r.stdout + r.stderr
    r = await run_cli(seeded.fake, "computers", "get", seeded.running.id, "--json")
    assert list(r.json()) == COMPUTER_KEYS
    r = await run_cli(
        seeded.fake, "computers", "get", seeded.running.id, "--json", "--show-secrets"
    )
    assert r.json()["vnc_password"] == password


async def test_computers_create_waits_until_running(seeded: Seeded) -> None:
    seeded.fake.timings.create = 0.1
    seeded.fake.timings.boot = 0.2  # the 201 says "creating": there is something to wait for
    r = await run_cli(
        seeded.fake, "computers", "create", "agent-3", "-w", seeded.workspace.id,
        "--ram", "8", "--cpu", "2", "--resolution", "1024x768x24", "--json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    c = r.json()
    assert (c["name"], c["status"], c["ram"], c["cpu"]) == ("agent-3", "running", 8, 2)
    assert seeded.fake.computer(c["id"]).resolution == "1024x768x24"
    polls = seeded.fake.requests_to("GET", f"/computers/{c['id']}")
    assert len(polls) >= 1


async def test_lifecycle_commands_wait_for_their_state(seeded: Seeded) -> None:
    fake, cid = seeded.fake, seeded.running.id
    fake.timings.stop = fake.timings.boot = fake.timings.restart = 0.2
    r = await run_cli(fake, "computers", "stop", cid, "--json")
    assert (r.code, r.json()["status"]) == (0, "stopped"), r.stderr
    r = await run_cli(fake, "computers", "start", cid, "--json")
    assert (r.code, r.json()["status"]) == (0, "running"), r.stderr
    r = await run_cli(fake, "computers", "restart", cid)
    assert r.code == 0, r.stderr
    assert any(line.split()[:2] == ["status", "running"] for line in r.stdout.splitlines())
    assert [a.name for a in fake.computer(cid).actions] == ["stop", "start", "restart"]

    fake.timings.stop = 30  # long enough that "stopping" is still visible after the CLI exits
    r = await run_cli(fake, "computers", "stop", cid, "--no-wait", "--json")
    assert r.json()["id"] == cid and fake.computer(cid).status == "stopping"


async def test_computers_delete_and_wait(seeded: Seeded) -> None:
    fake = seeded.fake
    r = await run_cli(fake, "computers", "wait", seeded.running.id, "--json")
    assert (r.code, r.json()["status"]) == (0, "running")
    fake.timings.boot = 0.3
    await run_cli(fake, "computers", "start", seeded.stopped.id, "--no-wait")
    r = await run_cli(fake, "computers", "wait", seeded.running.id, seeded.stopped.id, "--json")
    assert r.code == 0, r.stderr
    assert [(c["id"], c["status"]) for c in r.json()] == [
        (seeded.running.id, "running"),
        (seeded.stopped.id, "running"),
    ]
    r = await run_cli(fake, "computers", "delete", seeded.running.id, "-y")
    assert r.code == 0 and seeded.running.id not in fake.world.computers


async def test_delete_asks_on_a_terminal_only(seeded: Seeded) -> None:
    # stdin is a pipe here: without --yes nothing is deleted.
    r = await run_cli(seeded.fake, "computers", "delete", seeded.running.id)
    assert r.code == 2
    assert r.stderr.strip() == (
        "orgo-async: refusing to delete without --yes (stdin is not a terminal)"
    )
    assert seeded.running.id in seeded.fake.world.computers


async def test_screenshot_writes_the_png_the_emulator_served(
    seeded: Seeded, tmp_path: Path
) -> None:
    target = tmp_path / "shot.png"
    r = await run_cli(seeded.fake, "screenshot", seeded.running.id, "-o", str(target))
    assert r.code == 0, r.stderr
    c = seeded.running
    served = render_screen(c.width, c.height, c.screen, c.id)  # what the emulator draws
    assert target.read_bytes() == served
    assert r.stdout.strip() == f"saved {target} (image/png, 1280x720, {len(served)} bytes)"

    r = await run_cli(seeded.fake, "screenshot", c.id, "-o", "-")
    assert (r.code, r.raw_stdout) == (0, served)

    r = await run_cli(seeded.fake, "screenshot", c.id, "-o", str(target), "--json")
    assert r.json() == {
        "path": str(target),
        "mime_type": "image/png",
        "width": 1280,
        "height": 720,
        "size": len(served),
    }


async def test_bash_prints_the_output_and_exits_with_the_remote_code(seeded: Seeded) -> None:
    seeded.fake.on_bash(lambda command, computer: ("out of " + command + "\n", 7))
    r = await run_cli(seeded.fake, "bash", seeded.running.id, "false || ls")
    assert (r.code, r.stdout) == (7, "out of false || ls\n")
    assert seeded.fake.computer(seeded.running.id).actions[-1].body["command"] == "false || ls"
    r = await run_cli(seeded.fake, "bash", seeded.running.id, "x", "--json")
    assert r.code == 7 and r.json()["output"] == "out of x\n" and r.json()["exit_code"] == 7


async def test_exec_runs_code_from_an_argument_or_stdin(seeded: Seeded) -> None:
    r = await run_cli(seeded.fake, "exec", seeded.running.id, "print('hi')")
    assert (r.code, r.stdout) == (0, "hi\n"), r.stderr
    r = await run_cli(seeded.fake, "exec", seeded.running.id, "-", stdin=b"print(42)\n")
    assert (r.code, r.stdout) == (0, "42\n"), r.stderr
    assert [a.body["code"] for a in seeded.fake.computer(seeded.running.id).actions] == [
        "print('hi')",
        "print(42)\n",
    ]


async def test_audio_records_a_valid_wav(seeded: Seeded, tmp_path: Path) -> None:
    target = tmp_path / "out.wav"
    r = await run_cli(
        seeded.fake, "audio", seeded.running.id, "-o", str(target), "--seconds", "0.5",
        "--rate", "16000", "--json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    info = r.json()
    assert (info["sample_rate"], info["channels"], info["frames"]) == (16000, 1, 8000)
    with wave.open(str(target), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (
            16000,
            1,
            2,
            8000,
        )


async def test_python_dash_m_and_help(fake: FakeOrgo) -> None:
    r = await run_cli(fake, "--help")
    assert r.code == 0
    for command in ("workspaces", "computers", "screenshot", "bash", "audio", "terminal"):
        assert command in r.stdout
    for command in ("fleet", "mcp", "demo", "fake-server", "vnc-bridge"):
        assert command in r.stdout
