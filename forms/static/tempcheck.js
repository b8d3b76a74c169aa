// Enhancements only: every page works without JavaScript. GOV.UK Frontend's scripts move
// focus to the error summary, make "None of these" untick the other boxes, count characters
// and stop a double click from sending a form twice.
import { initAll } from "./govuk-frontend.min.js";

initAll();
