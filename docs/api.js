// Renders the API's OpenAPI document (openapi.json, next to this page) with Redoc.
"use strict";

(function render() {
  var container = document.getElementById("api-reference");
  var system = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  var mono = 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace';
  Redoc.init(
    "openapi.json",
    {
      expandResponses: "200,201,202",
      requiredPropsFirst: true,
      sortPropsAlphabetically: false,
      pathInMiddlePanel: true,
      theme: {
        colors: { primary: { main: "#0a6e52" } },
        typography: {
          fontFamily: system,
          headings: { fontFamily: system },
          code: { fontFamily: mono },
        },
      },
    },
    container,
    function rendered(error) {
      container.removeAttribute("aria-busy");
      if (error) {
        container.textContent = "The API reference could not be rendered: " + error;
      }
    }
  );
})();
