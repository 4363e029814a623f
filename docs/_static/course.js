// MathJax 3 does not break long formulas into lines: on a narrow screen an inline formula
// wider than its paragraph gets a horizontal scrollbar of its own (class math-scroll),
// so the page itself never scrolls sideways. Display maths scrolls by CSS alone.
(function () {
  "use strict";
  function fit() {
    document.querySelectorAll("mjx-container:not([display='true'])").forEach(function (m) {
      m.classList.remove("math-scroll");
      var block = m.parentElement && m.parentElement.closest("p, li, td, th, dd, dt, div");
      if (block && m.getBoundingClientRect().width > block.clientWidth) {
        m.classList.add("math-scroll");
      }
    });
  }
  window.addEventListener("load", function () {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(fit);
      var timer = null;
      window.addEventListener("resize", function () {
        clearTimeout(timer);
        timer = setTimeout(fit, 100);
      });
    }
  });
})();
