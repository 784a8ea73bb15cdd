"""The OpenAI Agents SDK side: :class:`OrgoComputer` (an ``agents.AsyncComputer``) and
:func:`orgo_computer_provider` (a fresh computer per run). Imports ``agents`` at import
time, so :mod:`orgo_async.agents.openai` loads this module only when these are used."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Literal

from agents import AsyncComputer, ComputerProvider

from ._desktop import Desktop
from ._openai_actions import OpenAIActions

if TYPE_CHECKING:
    from agents.computer import Button, Environment

    from .._client import AsyncOrgo
    from .._models import Computer

__all__ = ["OrgoComputer", "orgo_computer_provider"]


class OrgoComputer(AsyncComputer):
    """An Orgo computer as the Agents SDK's ``AsyncComputer``, for ``ComputerTool``.

    ::

        async with OrgoComputer(orgo, computer_id) as computer:
            agent = Agent(name="operator", tools=[ComputerTool(computer=computer)], ...)

    Every method of ``AsyncComputer`` is implemented through one
    :class:`~orgo_async.agents.Desktop`: ``screenshot`` (base64 PNG), ``click`` (left,
    right, wheel, back, forward), ``double_click``, ``scroll`` (``scroll_unit`` pixels per
    wheel click, vertical and horizontal), ``type``, ``wait`` (``wait_seconds``),
    ``move``, ``keypress`` (the keys pressed together) and ``drag`` along the path; mouse
    actions take ``keys=`` (held modifiers). ``dimensions`` come from the computer's
    resolution and ``environment`` is ``"ubuntu"`` (``"windows"`` for a Windows computer).
    ``dimensions`` is known after :meth:`open` (or at once when given a
    :class:`~orgo_async.Computer`); the GA computer tool does not need it.
    Failures raise the SDK's typed errors.
    """

    def __init__(
        self,
        orgo: AsyncOrgo,
        computer: str | Computer,
        *,
        scroll_unit: int = 100,
        wait_seconds: float = 1.0,
        input: Literal["auto", "rfb"] = "auto",
        screenshots: Literal["rest", "rfb"] = "rest",
    ) -> None:
        self.desktop = Desktop(orgo, computer, input=input, screenshots=screenshots)
        self.actions = OpenAIActions(
            self.desktop, scroll_unit=scroll_unit, wait_seconds=wait_seconds
        )
        self._os = None if isinstance(computer, str) else computer.os

    @property
    def computer_id(self) -> str:
        return self.desktop.computer_id

    def __repr__(self) -> str:
        return f"<OrgoComputer {self.computer_id} {self.dimensions}>"

    async def open(self) -> OrgoComputer:
        """Fetch the computer if needed and learn the display size."""
        await self.desktop.open()
        self._os = (await self.desktop.computer()).os
        return self

    async def aclose(self) -> None:
        """Close the RFB session, if one was opened."""
        await self.desktop.aclose()

    async def __aenter__(self) -> OrgoComputer:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def environment(self) -> Environment:
        return "windows" if self._os == "windows" else "ubuntu"

    @property
    def dimensions(self) -> tuple[int, int] | None:
        return self.desktop.known_size

    async def screenshot(self) -> str:
        return await self.actions.screenshot()

    async def click(self, x: int, y: int, button: Button, *, keys: list[str] | None = None) -> None:
        await self.actions.click(x, y, button, keys)

    async def double_click(self, x: int, y: int, *, keys: list[str] | None = None) -> None:
        await self.actions.double_click(x, y, keys)

    async def scroll(
        self, x: int, y: int, scroll_x: int, scroll_y: int, *, keys: list[str] | None = None
    ) -> None:
        await self.actions.scroll(x, y, scroll_x, scroll_y, keys)

    async def type(self, text: str) -> None:
        await self.actions.type(text)

    async def wait(self) -> None:
        await self.actions.wait()

    async def move(self, x: int, y: int, *, keys: list[str] | None = None) -> None:
        await self.actions.move(x, y, keys)

    async def keypress(self, keys: list[str]) -> None:
        await self.actions.keypress(keys)

    async def drag(self, path: list[tuple[int, int]], *, keys: list[str] | None = None) -> None:
        await self.actions.drag(path, keys)


def orgo_computer_provider(
    orgo: AsyncOrgo,
    *,
    workspace_id: str,
    name: str | None = None,
    ram: int | None = 4,
    cpu: int | None = None,
    timeout: float = 180.0,
    scroll_unit: int = 100,
    wait_seconds: float = 1.0,
    **create: Any,
) -> ComputerProvider[OrgoComputer]:
    """A ``ComputerProvider`` creating a fresh computer for each run and deleting it when
    the run is disposed::

        ComputerTool(computer=orgo_computer_provider(orgo, workspace_id=ws.id, ram=4))

    The computer is created with ``POST /computers`` (``name`` defaults to
    ``agent-<8 hex>``; ``ram``, ``cpu`` and any other keyword go to
    ``orgo.computers.create``) and waited on until ``running`` (``timeout`` seconds). If it
    never gets there, it is deleted before the error is raised: nothing is left running.
    """

    async def create_computer(*, run_context: Any) -> OrgoComputer:
        c = await orgo.computers.create(
            workspace_id=workspace_id,
            name=name or f"agent-{secrets.token_hex(4)}",
            ram=ram,
            cpu=cpu,
            **create,
        )
        try:
            running = await orgo.computers.wait_until(c.id, "running", timeout=timeout)
            computer = OrgoComputer(
                orgo, running, scroll_unit=scroll_unit, wait_seconds=wait_seconds
            )
            return await computer.open()
        except BaseException:
            await orgo.computers.delete(c.id)
            raise

    async def dispose(*, run_context: Any, computer: OrgoComputer) -> None:
        try:
            await computer.aclose()
        finally:
            await orgo.computers.delete(computer.computer_id)

    return ComputerProvider(create=create_computer, dispose=dispose)
