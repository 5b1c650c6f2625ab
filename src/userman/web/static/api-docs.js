// The interactive API documentation (/api/docs): Swagger UI (vendored) on the OpenAPI document,
// started here rather than by an inline script, so that the page keeps script-src 'self'.
"use strict";

window.SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // no badge: it would ask validator.swagger.io about our document
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
});
