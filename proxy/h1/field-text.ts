/**
 * What may be written into an HTTP/1.1 head. Heads are written as latin1, one byte per UTF-16
 * unit, so a character above U+00FF would be truncated to a byte (U+010D becomes CR): such text
 * is refused as much as CR, LF and other controls are (RFC 9110 §5.5: field values are VCHAR,
 * obs-text, SP and HTAB).
 */

/** True when `text` can go into a field name or value without changing the head's structure. */
export function isSafeFieldText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}
