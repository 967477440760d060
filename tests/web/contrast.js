// Text with too little contrast (WCAG AA: under 4.5:1) inside the elements `selector` matches, as
// ["tag.class \"text\" ratio", ...]. Run by page.evaluate (test_browser_view.py). The background is the
// nearest ancestor's opaque one; faded text (opacity, or a colour's alpha) is blended into it, as the eye sees it;
// fully transparent text is skipped.
(selector) => {
  const parse = (css) => {
    const m = css.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const luminance = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const backgroundOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor);
  };
  const bad = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const el of root.querySelectorAll("*")) {
      const hasText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
      if (!hasText || !el.getClientRects().length || el.closest("[hidden]")) continue;
      const bg = backgroundOf(el);
      const fg = parse(getComputedStyle(el).color);
      // text painted in a transparent colour is not seen: the editor's textarea, whose highlighted copy below
      // shows the program (and is checked itself)
      if (fg.a === 0) continue;
      let opacity = fg.a;
      for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
      const seen = { r: fg.r * opacity + bg.r * (1 - opacity), g: fg.g * opacity + bg.g * (1 - opacity),
                     b: fg.b * opacity + bg.b * (1 - opacity) };
      const [hi, lo] = [luminance(seen), luminance(bg)].sort((x, y) => y - x);
      const ratio = (hi + 0.05) / (lo + 0.05);
      if (ratio < 4.5) bad.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
  }
  return [...new Set(bad)];
}
