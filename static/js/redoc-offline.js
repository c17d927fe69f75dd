// ReDoc, offline and under the site's Content-Security-Policy: its sidebar always shows a logo
// from cdn.redoc.ly, which the policy (img-src 'self') blocks and an offline machine cannot
// fetch. Point that one image at the site's own icon before ReDoc creates it.
(function () {
  "use strict";
  var REMOTE_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg";
  var script = document.currentScript;
  var localLogo = script ? script.getAttribute("data-logo") : "/static/favicon.svg";
  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && name === "src" && value === REMOTE_LOGO) {
      value = localLogo;
    }
    return setAttribute.call(this, name, value);
  };
  var source = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: source.enumerable,
    get: source.get,
    set: function (value) {
      source.set.call(this, value === REMOTE_LOGO ? localLogo : value);
    },
  });
})();
