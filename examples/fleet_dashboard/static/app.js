// The fleet dashboard's page. It talks only to this app: no API key, no vnc_password,
// no Orgo URL ever reaches the browser. noVNC and xterm.js come from node_modules,
// installed at set-up time and served by the app under /vendor.
import RFB from "/vendor/@novnc/novnc/core/rfb.js";
import { Terminal } from "/vendor/@xterm/xterm/lib/xterm.mjs";

const wsBase = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
const fleetEl = document.getElementById("fleet");
const screenEl = document.getElementById("screen");
const termEl = document.getElementById("terminal");
const vncStatus = document.getElementById("vnc-status");
const termStatus = document.getElementById("term-status");

const state = { current: null, rfb: null, term: null, termSocket: null, vncRetry: 500, termRetry: 1000 };
window.orgoDemo = state; // for the browser tests and the curious

// -- fleet list with live status -------------------------------------------------------

function renderFleet(computers) {
  fleetEl.replaceChildren();
  for (const c of computers) {
    const li = document.createElement("li");
    li.dataset.id = c.id;
    const name = document.createElement("span");
    name.textContent = c.name;
    const badge = document.createElement("span");
    badge.className = "badge " + c.status;
    badge.textContent = c.status;
    const restart = document.createElement("button");
    restart.textContent = "restart";
    restart.onclick = async (e) => {
      e.stopPropagation();
      await fetch(`/api/computers/${c.id}/restart`, { method: "POST" });
    };
    badge.append(restart);
    li.append(name, badge);
    li.onclick = () => select(c.id);
    fleetEl.append(li);
  }
}

function setStatus(id, status) {
  const badge = fleetEl.querySelector(`li[data-id="${id}"] .badge`);
  if (badge) {
    badge.firstChild.textContent = status;
    badge.className = "badge " + status;
  }
}

async function loadFleet() {
  const answer = await fetch("/api/computers");
  const computers = await answer.json();
  renderFleet(computers);
  const status = new EventSource("/api/computers/status");
  status.onmessage = (e) => {
    const change = JSON.parse(e.data);
    setStatus(change.id, change.status);
  };
  const first = computers.find((c) => c.status === "running") || computers[0];
  if (first) select(first.id);
}

function select(id) {
  state.current = id;
  for (const li of fleetEl.children) li.classList.toggle("selected", li.dataset.id === id);
  connectVnc(id);
  connectTerminal(id);
}

// -- desktop: noVNC through the app's VNC relay (no credentials) ------------------------

function connectVnc(id) {
  if (state.rfb) {
    state.rfb._orgoStale = true;
    state.rfb.disconnect();
  }
  vncStatus.textContent = "connecting";
  const rfb = new RFB(screenEl, `${wsBase}/ws/computers/${id}/vnc`, { wsProtocols: ["binary"] });
  rfb.scaleViewport = true;
  rfb.addEventListener("connect", () => {
    vncStatus.textContent = "connected";
    state.vncRetry = 500;
  });
  rfb.addEventListener("disconnect", () => {
    if (rfb._orgoStale || state.current !== id) return;
    // The relay closes 1012 when the desktop restarts: reconnect, as after any VNC
    // server restart. The relay already has the new password.
    vncStatus.textContent = `reconnecting in ${state.vncRetry} ms`;
    setTimeout(() => state.current === id && connectVnc(id), state.vncRetry);
    state.vncRetry = Math.min(state.vncRetry * 2, 10000);
  });
  state.rfb = rfb;
}

// -- terminal: xterm.js through the app's terminal relay (Orgo's JSON protocol) ---------

function connectTerminal(id) {
  if (state.termSocket) {
    state.termSocket.onclose = null;
    state.termSocket.close();
  }
  if (!state.term) {
    state.term = new Terminal({ cols: 100, rows: 24, convertEol: false });
    state.term.open(termEl);
    state.term.onData((data) => send({ type: "input", data }));
    state.term.onResize(({ cols, rows }) => send({ type: "resize", cols, rows }));
  }
  const term = state.term;
  termStatus.textContent = "connecting";
  const socket = new WebSocket(`${wsBase}/ws/computers/${id}/terminal?cols=${term.cols}&rows=${term.rows}`);
  socket.onopen = () => {
    termStatus.textContent = "connected";
    if (state.termRetry > 1000) term.write("\r\n[a new shell: the computer restarted]\r\n");
    state.termRetry = 1000;
  };
  socket.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "output") term.write(m.data);
    else if (m.type === "exit") term.write(`\r\n[shell exited with ${m.code}]\r\n`);
    else if (m.type === "error") term.write(`\r\n[error: ${m.message}]\r\n`);
  };
  socket.onclose = (e) => {
    termStatus.textContent = `closed (${e.code}${e.reason ? ": " + e.reason : ""})`;
    // 1012: the computer restarted (the relay has its new password); 1001/4404: it is
    // stopping or restarting; 1013: Orgo unreachable. Reconnect with backoff.
    if (state.current === id && [1001, 1012, 1013, 4404].includes(e.code) && state.termRetry <= 16000) {
      setTimeout(() => state.current === id && connectTerminal(id), state.termRetry);
      state.termRetry *= 2;
    }
  };
  state.termSocket = socket;
}

function send(message) {
  const socket = state.termSocket;
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

loadFleet();
