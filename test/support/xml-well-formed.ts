// A small XML well-formedness check for the renderers' tests (no XML parser in the dependencies):
// tags nest and close, attributes are quoted and unique, `&` starts a known or numeric entity,
// and no raw `<` or `>` stands in text. It returns the element names in document order.
const NAME = /^[A-Za-z_][\w.:-]*/;
const ENTITY = /^&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;

export function wellFormedXml(text: string): { elements: string[]; root: string } {
  const stack: string[] = [];
  const elements: string[] = [];
  let root = '';
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at ${i}: ${why} near ${JSON.stringify(text.slice(Math.max(0, i - 40), i + 40))}`);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '&') {
      if (!ENTITY.test(text.slice(i, i + 12))) fail('bare &');
      i++;
    } else if (c === '>') {
      fail('bare >');
    } else if (c !== '<') {
      if (stack.length === 0 && root && !/\s/.test(c)) fail('text after the root element');
      i++;
    } else if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i);
      if (end < 0 || (i > 0 && text.startsWith('<?xml ', i))) fail('processing instruction');
      i = end + 2;
    } else if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i);
      if (end < 0) fail('unclosed comment');
      i = end + 3;
    } else if (text.startsWith('</', i)) {
      const name = NAME.exec(text.slice(i + 2))?.[0] ?? fail('end tag name');
      if (stack.pop() !== name) fail(`</${name}> closes nothing open`);
      i += 2 + name.length;
      while (/\s/.test(text[i] ?? '')) i++;
      if (text[i] !== '>') fail('end tag');
      i++;
    } else {
      const name = NAME.exec(text.slice(i + 1))?.[0] ?? fail('start tag name');
      if (stack.length === 0) {
        if (root) fail('second root element');
        root = name;
      }
      elements.push(name);
      i += 1 + name.length;
      const seen = new Set<string>();
      for (;;) {
        while (/\s/.test(text[i] ?? '')) i++;
        if (text.startsWith('/>', i)) {
          i += 2;
          break;
        }
        if (text[i] === '>') {
          i++;
          stack.push(name);
          break;
        }
        const attr = NAME.exec(text.slice(i))?.[0] ?? fail('attribute name');
        if (seen.has(attr)) fail(`duplicate attribute ${attr}`);
        seen.add(attr);
        i += attr.length;
        if (text[i] !== '=') fail('attribute without =');
        const quote = text[i + 1];
        if (quote !== '"' && quote !== "'") fail('unquoted attribute');
        const end = text.indexOf(quote!, i + 2);
        if (end < 0) fail('unclosed attribute');
        const value = text.slice(i + 2, end);
        if (value.includes('<')) fail('< in attribute');
        for (let j = value.indexOf('&'); j >= 0; j = value.indexOf('&', j + 1))
          if (!ENTITY.test(value.slice(j, j + 12))) fail('bare & in attribute');
        i = end + 1;
      }
    }
  }
  if (stack.length > 0) throw new Error(`not well-formed: unclosed ${stack.join(' > ')}`);
  if (!root) throw new Error('not well-formed: no root element');
  return { elements, root };
}
