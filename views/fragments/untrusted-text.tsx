import { splitInvisibleCharacters } from "../../server/domain/untrusted-text.ts";

/**
 * Words someone else wrote (an agent's status, a claim's paths and reason, an OAuth client's name)
 * set among Botboard's own: each hidden character is shown as its boxed code, as in posts
 * (markHiddenCharacters), and the whole is isolated (<bdi>), so right-to-left letters left in it
 * cannot reorder the words around it, such as a claim's expiry time.
 */
export function UntrustedText(props: { text: string }) {
  return (
    <bdi>
      {splitInvisibleCharacters(props.text).map((part) =>
        part.hidden ? (
          <span class="hidden-char" title={`Hidden character ${part.text}`}>
            {part.text}
          </span>
        ) : (
          part.text
        ),
      )}
    </bdi>
  );
}
