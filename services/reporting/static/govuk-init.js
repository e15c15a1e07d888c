// GOV.UK Frontend's components (skip link, buttons, radios) on this page; the classes say that
// scripts run and that the browser supports them (instead of the usual inline script, which the
// page's Content-Security-Policy does not allow).
import { initAll } from "/static/vendor/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
