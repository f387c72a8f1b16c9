"""The online channel's endpoints for the guard walk of test_guards: the family member's own
page and messages need a family login (the link to the elder is checked in the service); the
desk's are scoped to the conversation's or the elder's region (test_chats_console)."""

from __future__ import annotations

from typing import Any


def chat_cases(case: Any) -> dict[str, Any]:
    return {
        "chats.page": case("GET", "/family/chat"),
        "chats.send": case("POST", "/api/family/chats", {}),
        "chats.withdraw": case("POST", "/api/family/chats/999999/withdraw", {}),
        "chats.family_photo": case("GET", "/api/family/chats/999999/photos/1"),
        "chats.take": case("POST", "/api/chats/999999/take", {}, scope="content"),
        "chats.conversation": case("GET", "/api/chats/999999", scope="content"),
        "chats.reply": case("POST", "/api/chats/999999/replies", {"text": "x"}, scope="content"),
        "chats.close": case("POST", "/api/chats/999999/close", {}, scope="content"),
        "chats.staff_photo": case("GET", "/api/chats/999999/photos/1", scope="content"),
        "chats.elder_history": case("GET", "/api/elders/{elder_bt}/chats", scope="elder"),
    }


SOCKET_EVENTS = {("/chat", "snapshot"): "self"}
