// Draw every chart of the page: each .chart element holds its plotly figure as JSON in data-figure.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".chart[data-figure]").forEach(function (el) {
    var fig = JSON.parse(el.dataset.figure);
    if (window.Plotly) {
      Plotly.newPlot(el, fig.data, fig.layout, {displaylogo: false, responsive: true});
    }
  });
});
