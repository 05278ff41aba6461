// The "All metrics" table scrolls inside its own box on a narrow screen: bring the sorted
// rubric's columns into view there, beside the model column that stays put.
(function () {
  "use strict";
  var scroller = document.getElementById("board-scroller");
  var sorted = scroller && scroller.querySelector("th.sorted");
  if (!sorted) return;
  var model = scroller.querySelector("thead .model");
  var box = scroller.getBoundingClientRect();
  var column = sorted.getBoundingClientRect();
  var left = box.left + (model ? model.getBoundingClientRect().width : 0);
  if (column.left < left || column.right > box.right) {
    scroller.scrollLeft += column.left - left;
  }
})();
