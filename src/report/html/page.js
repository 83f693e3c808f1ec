(function () {
  "use strict";
  var cards = Array.prototype.slice.call(document.querySelectorAll("article.check"));
  var bar = document.getElementById("filters");
  if (!bar || cards.length === 0) { return; }
  var state = { status: "all", part: null };
  var buttons = [];
  function has(card, key, name) {
    return (" " + (card.getAttribute("data-" + key) || "") + " ").indexOf(" " + name + " ") >= 0;
  }
  function show() {
    cards.forEach(function (c) {
      var s = c.getAttribute("data-status");
      var byStatus = state.status === "all" || (state.status === "bad" ? (s === "fail" || s === "error") : s === state.status);
      var byPart = !state.part || has(c, state.part.key, state.part.name);
      c.hidden = !(byStatus && byPart);
    });
    buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.value === state.status)); });
    label.textContent = state.part ? "only checks touching " + state.part.word + " " + state.part.label + " (click it again to show all)" : "";
    Array.prototype.forEach.call(document.querySelectorAll("svg.lab .picked"), function (g) { g.classList.remove("picked"); });
    if (state.part) { state.part.el.classList.add("picked"); }
  }
  function count(pred) { return cards.filter(pred).length; }
  [["all", "all " + cards.length],
   ["bad", "did not pass " + count(function (c) { var s = c.getAttribute("data-status"); return s === "fail" || s === "error"; })],
   ["pass", "passed " + count(function (c) { return c.getAttribute("data-status") === "pass"; })]
  ].forEach(function (b) {
    var el = document.createElement("button");
    el.type = "button";
    el.value = b[0];
    el.textContent = b[1];
    el.addEventListener("click", function () { state.status = b[0]; show(); });
    buttons.push(el);
    bar.appendChild(el);
  });
  var fold = document.createElement("button");
  fold.type = "button";
  fold.textContent = "fold packets and causes";
  fold.addEventListener("click", function () {
    var all = document.querySelectorAll("details");
    var open = Array.prototype.some.call(all, function (d) { return d.open; });
    Array.prototype.forEach.call(all, function (d) { d.open = !open; });
    fold.textContent = open ? "unfold packets and causes" : "fold packets and causes";
  });
  bar.appendChild(fold);
  var label = document.createElement("span");
  label.className = "picked-label";
  bar.appendChild(label);
  [["node", "nodes", "node"], ["network", "networks", "network"], ["host", "hosts", "host"]].forEach(function (kind) {
    Array.prototype.forEach.call(document.querySelectorAll("svg.lab g[data-" + kind[0] + "]"), function (g) {
      g.classList.add("clickable");
      g.addEventListener("click", function () {
        var name = g.getAttribute("data-" + kind[0]);
        var same = state.part && state.part.el === g;
        state.part = same ? null : { key: kind[1], name: name, word: kind[2], label: name, el: g };
        show();
        if (!same) { document.getElementById("checks").scrollIntoView({ behavior: "smooth" }); }
      });
    });
  });
  show();
})();
