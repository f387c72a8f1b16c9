// The online channel on the agent's desk: the conversation offered to this desk (a band with
// its waiting time; 接入 takes it), the conversations this agent answers, and the one in focus
// with its messages, the reply box and closing. Taking or choosing one pops its elder, and an
// order opened then comes from that conversation. Shown from the snapshot on every
// (re)connect and reload, then kept current by the stream; messages are read through the
// guarded endpoint when an event says there is one.
import { api, duration, el, monthDayTime, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
const desk = { offer: null, handling: [], current: null, unread: new Set(), taking: false, onPop: null, refresh: null };

export function init({ onPop, refresh }) { desk.onPop = onPop; desk.refresh = refresh; }

function showOffer(d) {
  desk.offer = d;
  $("chat-offer-who").textContent = d.elder_name ? t("chat.offer.who", { elder: d.elder_name, sender: d.sender_name || "", relation: d.sender_relation || "" }) : t("chat.offer.someone");
  $("chat-offer-clock").dataset.since = d.opened_at;
  $("chat-offer").hidden = false;
  tick();
}

function hideOffer() { desk.offer = null; $("chat-offer").hidden = true; }

function renderList() {
  $("chat-card").hidden = !desk.handling.length && !desk.current;
  $("chat-list").replaceChildren(...desk.handling.map((c) => el("li", {},
    el("button", { class: `small${c.chat_id === desk.current ? " primary" : ""}`, "data-chat": c.chat_id, onclick: () => openChat(c.chat_id) },
      `${c.elder_name || ""} · ${c.sender_relation || ""}${desk.unread.has(c.chat_id) ? ` · ${t("chat.unread")}` : ""}`))));
}

export function fromSnapshot(held) {
  const h = held || {};
  if (h.offer) showOffer(h.offer); else hideOffer();
  desk.handling = h.handling || [];
  if (desk.current && !desk.handling.some((c) => c.chat_id === desk.current)) clearCurrent();
  renderList();
  if (desk.current) loadChat(desk.current); // messages that came while away
}

function tick() {
  if (desk.offer) $("chat-offer-clock").textContent = duration($("chat-offer-clock").dataset.since);
}

async function takeOffer() {
  const offer = desk.offer;
  if (!offer || desk.taking) return;
  desk.taking = true;
  try {
    await api("POST", `/api/chats/${offer.chat_id}/take`, {});
    hideOffer();
    desk.handling.push({ chat_id: offer.chat_id, elder_id: offer.elder_id });
    await openChat(offer.chat_id);
    if (desk.refresh) desk.refresh();
  } catch (err) {
    hideOffer();
    toast(err.code === "chat_taken" ? t("chat.gone") : err.message, "error");
  } finally {
    desk.taking = false;
  }
}

function messageItem(chat, m) {
  const parts = [el("div", { class: "who" }, `${m.author === "agent" ? t("chat.me_agent", { name: m.author_name }) : `${chat.sender_name} (${chat.sender_relation})`} · ${monthDayTime(m.at)}`)];
  if (m.text) parts.push(el("div", { class: "text" }, m.text));
  if (m.photo) parts.push(el("a", { href: `/api/chats/${chat.chat_id}/photos/${m.id}`, target: "_blank", rel: "noopener" },
    el("img", { src: `/api/chats/${chat.chat_id}/photos/${m.id}`, alt: t("chat.photo"), class: "chat-photo", "data-testid": "chat-photo" })));
  if (m.position && m.position.latitude !== undefined) {
    parts.push(el("div", { class: "hint", "data-testid": "chat-position" }, t("chat.position", {
      lat: m.position.latitude, lon: m.position.longitude, accuracy: m.position.accuracy_m ?? "—" })));
  }
  return el("li", { class: `chat-msg ${m.author}`, "data-author": m.author }, ...parts);
}

async function loadChat(chatId) {
  try {
    const { chat } = await api("GET", `/api/chats/${chatId}`);
    if (desk.current !== chatId) return;
    $("chat-head").textContent = t("chat.head", { elder: chat.elder_name || "", sender: chat.sender_name, relation: chat.sender_relation, phone: chat.sender_phone || "—", status: chat.status_label });
    $("chat-messages").replaceChildren(...chat.messages.map((m) => messageItem(chat, m)));
    $("chat-reply-form").hidden = !chat.mine;
    return chat;
  } catch (err) { showError(err); return null; }
}

async function openChat(chatId) {
  desk.current = chatId;
  desk.unread.delete(chatId);
  renderList();
  $("chat-card").hidden = false;
  const chat = await loadChat(chatId);
  if (chat && desk.onPop) desk.onPop(chat.elder_id, chatId);
}

function clearCurrent() {
  desk.current = null;
  $("chat-head").textContent = "";
  $("chat-messages").replaceChildren();
  $("chat-reply-form").hidden = true;
  if (desk.onPop) desk.onPop(null, null);
}

export function currentChat() { return desk.current; }

function offered(env) {
  showOffer({ ...(env.data || {}) });
  if (desk.refresh) desk.refresh(); // the snapshot names the elder and the sender, masked
}

function offerEnded(env) {
  const d = env.data || {};
  if (!desk.offer || d.offer_id !== desk.offer.offer_id) {
    if (desk.offer && d.chat_id === desk.offer.chat_id) hideOffer();
    return;
  }
  hideOffer();
  if (d.outcome === "lapsed") toast(t("chat.lapsed"), "error");
  else if (d.outcome === "withdrawn") toast(t("chat.gone"));
}

function changed(env) {
  const d = env.data || {};
  if (env.type === "ChatEnded" && desk.handling.some((c) => c.chat_id === d.chat_id)) {
    desk.handling = desk.handling.filter((c) => c.chat_id !== d.chat_id);
    if (desk.current === d.chat_id) { toast(t("chat.ended")); loadChat(d.chat_id); }
    renderList();
  }
}

function message(env) {
  const d = env.data || {};
  if (d.chat_id === desk.current) loadChat(d.chat_id);
  else if (d.author === "sender") { desk.unread.add(d.chat_id); renderList(); toast(t("chat.new_message")); }
}

export const handlers = {
  chat_offered: offered,
  chat_offer_ended: offerEnded,
  chat_changed: changed,
  chat_message: message,
};

setInterval(tick, 1000);
$("chat-offer-take").addEventListener("click", takeOffer);
$("chat-reply-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const chatId = desk.current;
  if (!chatId) return;
  try {
    await api("POST", `/api/chats/${chatId}/replies`, { text: $("chat-reply").value });
    $("chat-reply").value = "";
    loadChat(chatId);
  } catch (err) { showError(err); }
});
$("chat-close").addEventListener("click", async () => {
  const chatId = desk.current;
  if (!chatId || !window.confirm(t("chat.close_confirm"))) return;
  try {
    await api("POST", `/api/chats/${chatId}/close`, {});
    desk.handling = desk.handling.filter((c) => c.chat_id !== chatId);
    clearCurrent();
    renderList();
  } catch (err) { showError(err); }
});
