/**
 * The one place the notify channels take alert titles and severity marks from. Until the typed
 * title table shared with the dashboard lands, they are Telegram's; repoint this import then.
 */
export { ALERT_TITLES, formatTime, SEVERITY_EMOJI } from "../../../templates/messages/telegram.ts";
