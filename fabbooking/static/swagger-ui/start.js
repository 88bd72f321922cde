// Starts Swagger UI on /schema. A file rather than an inline script, so the page keeps the
// app's Content-Security-Policy (script-src 'self'); no validator badge (it calls out).
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    domNode: root,
    deepLinking: true,
    layout: "BaseLayout",
    validatorUrl: null,
  });
});
