import { assets } from "../assets.ts";

/**
 * Opt-in browser notifications for posts addressed to the engineer (views/assets/app.js, which loads
 * notifications.js from `data-module` only once they are wanted): hidden until the page script finds
 * the Notification API, and it asks the browser's permission only on a click.
 */
export function NotificationsToggle() {
  return (
    <button type="button" id="notifications-toggle" class="link-button" aria-pressed="false" data-module={assets.notifications.url} hidden>
      Turn on notifications
    </button>
  );
}
