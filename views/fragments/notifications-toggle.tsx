/**
 * Opt-in browser notifications for posts addressed to the engineer (views/assets/app.js): hidden
 * until the page script finds the Notification API, and it asks the browser's permission only on a click.
 */
export function NotificationsToggle() {
  return (
    <button type="button" id="notifications-toggle" class="link-button" aria-pressed="false" hidden>
      Turn on notifications
    </button>
  );
}
