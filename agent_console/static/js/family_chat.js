// The family member's online consultation: write to 12349 about an elder (text, a photo, their
// position) and read the answers as they come. The page shows the snapshot the server sends on
// every (re)connect and reads it again whenever a message or a change is signalled.
import { api, config, connect, el, monthDayTime, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
const page = { snapshot: null, position: null, sending: false };
const STATUS = {
  waiting: (c, target) => `已发送, 正在等待坐席接入（通常 ${target} 秒内）`,
  handling: (c) => `坐席 ${c.handler_name} 正在为您服务`,
  closed: () => "本次咨询已结束, 再次发送即开始新的咨询",
  abandoned: () => "本次咨询已撤回, 再次发送即开始新的咨询",
};

function chosenElder() { return Number($("chat-elder").value); }

// The conversation about the chosen elder shown: the open one, else the latest.
function shownChat() {
  const chats = (page.snapshot && page.snapshot.chats) || [];
  const mine = chats.filter((c) => c.elder_id === chosenElder());
  return mine.find((c) => c.status === "waiting" || c.status === "handling") || mine[0] || null;
}

function messageItem(chat, m) {
  const mine = m.author === "sender";
  const parts = [el("div", { class: "who" }, `${mine ? "我" : `12349 坐席 ${m.author_name}`} · ${monthDayTime(m.at)}`)];
  if (m.text) parts.push(el("div", { class: "text" }, m.text));
  if (m.photo) parts.push(el("img", { src: `/api/family/chats/${chat.chat_id}/photos/${m.id}`, alt: "我发送的照片", loading: "lazy" }));
  if (m.position) parts.push(el("div", { class: "hint" }, "已附上位置"));
  return el("li", { class: mine ? "mine" : "agent", "data-author": m.author }, ...parts);
}

function render() {
  const chat = shownChat();
  const status = $("chat-status");
  status.hidden = !chat;
  $("chat-withdraw").hidden = !chat || !["waiting", "handling"].includes(chat.status);
  $("chat-messages").replaceChildren(...(chat ? chat.messages.map((m) => messageItem(chat, m)) : []));
  if (chat) {
    status.textContent = STATUS[chat.status](chat, page.snapshot.answer_target_s);
    status.dataset.status = chat.status;
  }
}

function applySnapshot(snap) {
  if (!snap || snap.error) { if (snap) toast(snap.error.message, "error"); return; }
  page.snapshot = snap;
  render();
}

const socket = connect("/chat", {
  onSnapshot: applySnapshot,
  on: { chat_message: () => socket.refresh(), chat_changed: () => socket.refresh() },
});

$("chat-elder").addEventListener("change", render);

$("chat-locate").addEventListener("click", () => {
  const note = $("chat-position");
  if (!navigator.geolocation) { toast("此手机不能获取位置", "error"); return; }
  note.hidden = false;
  note.textContent = "正在获取位置…";
  navigator.geolocation.getCurrentPosition((pos) => {
    page.position = pos.coords;
    note.textContent = `已获取位置（误差约 ${Math.round(pos.coords.accuracy || 0)} 米）, 将随留言发送`;
  }, () => {
    page.position = null;
    note.textContent = "未能获取位置, 请允许使用位置或在留言中写明地址";
  }, { enableHighAccuracy: true, timeout: 15000 });
});

// Sent as a form (the photo goes with it); a refusal says why and leaves what was typed.
$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (page.sending) return;
  const form = new FormData();
  form.append("elder_id", String(chosenElder()));
  form.append("text", $("chat-text").value);
  const file = $("chat-photo").files[0];
  const input = $("chat-photo");
  // told at once, before a large photo travels over a slow line (the server checks it again)
  if (file && file.size > Number(input.dataset.maxBytes)) {
    toast(`照片不能超过 ${input.dataset.maxMb} MB, 请换一张或缩小后再发`, "error");
    return;
  }
  if (file) form.append("photo", file);
  if (page.position) {
    form.append("latitude", String(page.position.latitude));
    form.append("longitude", String(page.position.longitude));
    form.append("accuracy", String(Math.round(page.position.accuracy || 0)));
  }
  page.sending = true;
  try {
    const response = await fetch("/api/family/chats", { method: "POST", body: form, headers: { "X-CSRF-Token": config.csrf, Accept: "application/json" } });
    let data = {};
    try { data = await response.json(); } catch { data = {}; }
    if (response.status === 401) { window.location.href = "/family/login"; return; }
    if (!response.ok) { toast(data.message || "发送失败, 请重试", "error"); return; }
    $("chat-text").value = "";
    $("chat-photo").value = "";
    page.position = null;
    $("chat-position").hidden = true;
    toast("已发送");
    socket.refresh();
  } catch {
    toast("网络不通, 留言未发送, 请稍后重试", "error");
  } finally {
    page.sending = false;
  }
});

$("chat-withdraw").addEventListener("click", async () => {
  const chat = shownChat();
  if (!chat || !window.confirm("确定结束本次咨询吗?")) return;
  try {
    await api("POST", `/api/family/chats/${chat.chat_id}/withdraw`, {});
    socket.refresh();
  } catch (err) { toast(err.message, "error"); }
});
