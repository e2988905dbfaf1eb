// botgate chat widget: a bubble that opens the bot's chat in an iframe. `config` (bot, url,
// origins, title) is filled in by the server. The browser enforces the allowed origins
// through the chat page's frame-ancestors; this check only spares other sites a dead bubble.
"use strict";
if (config.origins.indexOf(location.origin.toLowerCase()) < 0) {
  console.warn("botgate chat: " + location.origin + " is not among the allowed origins of " +
               "bot " + config.bot + "; add it to [bots.webchat] allowed_origins");
  return;
}
if (document.getElementById("botgate-chat-" + config.bot)) return;
const root = document.createElement("div");
root.id = "botgate-chat-" + config.bot;
const frame = document.createElement("iframe");
frame.src = config.url + "?embed=1";
frame.title = config.title;
frame.style.display = "none";
Object.assign(frame.style, {
  position: "fixed", right: "1rem", bottom: "5rem", width: "min(24rem, calc(100vw - 2rem))",
  height: "min(36rem, calc(100vh - 7rem))", border: "1px solid #d8dce2", borderRadius: "12px",
  boxShadow: "0 8px 24px rgba(0,0,0,.18)", background: "#fff", zIndex: "2147483646"
});
const bubble = document.createElement("button");
bubble.type = "button";
bubble.textContent = "Chat";
bubble.setAttribute("aria-label", config.title);
bubble.setAttribute("aria-expanded", "false");
Object.assign(bubble.style, {
  position: "fixed", right: "1rem", bottom: "1rem", minWidth: "3.5rem", height: "3.5rem",
  borderRadius: "1.75rem", border: "0", background: "#2459d6", color: "#fff",
  font: "600 1rem system-ui, sans-serif", cursor: "pointer", zIndex: "2147483647",
  boxShadow: "0 4px 12px rgba(0,0,0,.25)", padding: "0 1rem"
});
function toggle(open) {
  frame.style.display = open ? "block" : "none";
  bubble.setAttribute("aria-expanded", String(open));
  bubble.textContent = open ? "Close" : "Chat";
  if (open) frame.focus();
}
bubble.addEventListener("click", function () { toggle(frame.style.display === "none"); });
document.addEventListener("keydown", function (event) {
  if (event.key === "Escape" && frame.style.display !== "none") { toggle(false); bubble.focus(); }
});
root.appendChild(frame);
root.appendChild(bubble);
(document.body || document.documentElement).appendChild(root);
