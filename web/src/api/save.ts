import type { DownloadLink } from './types.js';

/**
 * Has the browser fetch the presigned URL as a download. The object is served
 * with Content-Disposition: attachment and the API's filename, so the file is
 * saved under that name (a cross-origin link ignores the download attribute;
 * it is set for a same-origin S3 in front of CloudFront).
 */
export function saveLink(link: Pick<DownloadLink, 'url' | 'filename'>): void {
  const anchor = document.createElement('a');
  anchor.href = link.url;
  anchor.download = link.filename;
  anchor.rel = 'noopener';
  anchor.hidden = true;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
}
