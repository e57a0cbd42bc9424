// The grid slider and filmstrip of each run, and the x-axis choice kept across the reloads
// of a watched page (sessionStorage: this tab only).
document.querySelectorAll('.grids').forEach(function (box) {
  var slider = box.querySelector('input[type=range]');
  if (!slider) return;
  var view = box.querySelector('.grid-view img');
  var label = box.querySelector('.grid-step');
  var thumbs = box.querySelectorAll('.filmstrip img');
  function show(i) {
    var t = thumbs[i];
    view.src = t.src; view.alt = t.alt; label.textContent = t.dataset.label;
    thumbs.forEach(function (x, j) { x.classList.toggle('current', j === i); });
    slider.value = String(i);
  }
  slider.addEventListener('input', function () { show(Number(slider.value)); });
  thumbs.forEach(function (t, i) { t.addEventListener('click', function () { show(i); }); });
  show(thumbs.length - 1);
});
(function () {
  var key = 'gen-report-x-axis';
  var kept = null;
  try { kept = window.sessionStorage.getItem(key); } catch (e) { /* storage off */ }
  var choice = kept && document.getElementById('x-' + kept);
  if (choice) choice.checked = true;
  document.querySelectorAll('.x-choice').forEach(function (input) {
    input.addEventListener('change', function () {
      try { window.sessionStorage.setItem(key, input.value); } catch (e) { /* storage off */ }
    });
  });
})();
