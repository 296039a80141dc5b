// The API documentation page (server/templates/api/docs.html): starts Swagger UI on the OpenAPI document.
// A file of its own because the Content-Security-Policy allows no inline script.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || !window.SwaggerUIBundle) {
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    // Areas start folded: with some 260 operations, unfolding them all at once left the page showing
    // only the first area in Chromium; a reader opens the area they want (deep links still work).
    docExpansion: "none",
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null, // the default badge loads an image from another site
    persistAuthorization: false
  });
});
