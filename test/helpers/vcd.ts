import { readFileSync } from 'node:fs';

/** A small VCD reader for tests: variables by hierarchical name and their value changes. */
export interface VcdTrace {
  timescale: string;
  /** "scope.sub.var" -> identifier code */
  vars: Map<string, { id: string; width: number }>;
  /** identifier code -> list of [time, value] in file order */
  changes: Map<string, Array<[number, number]>>;
  endTime: number;
}

export function parseVcd(path: string): VcdTrace {
  const text = readFileSync(path, 'utf8');
  const tokens = text.split(/\s+/).filter((t) => t.length > 0);
  const vars = new Map<string, { id: string; width: number }>();
  const changes = new Map<string, Array<[number, number]>>();
  const scope: string[] = [];
  let timescale = '';
  let i = 0;
  let time = 0;
  let inDefs = true;
  const expectEnd = () => {
    while (tokens[i] !== '$end') {
      if (i >= tokens.length) throw new Error('unterminated section');
      i++;
    }
    i++;
  };
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (inDefs) {
      if (t === '$scope') {
        scope.push(tokens[i + 2]!);
        i += 3;
        expectEnd();
      } else if (t === '$upscope') {
        scope.pop();
        i++;
        expectEnd();
      } else if (t === '$var') {
        const width = Number(tokens[i + 2]);
        const id = tokens[i + 3]!;
        const name = tokens[i + 4]!;
        if (!Number.isInteger(width) || width < 1) throw new Error(`bad width in $var ${name}`);
        vars.set([...scope, name].join('.'), { id, width });
        changes.set(id, []);
        i += 5;
        expectEnd();
      } else if (t === '$timescale') {
        timescale = tokens[i + 1]!;
        i += 2;
        expectEnd();
      } else if (t === '$enddefinitions') {
        i++;
        expectEnd();
        inDefs = false;
      } else if (t.startsWith('$')) {
        i++;
        expectEnd();
      } else {
        throw new Error(`unexpected token ${t} in definitions`);
      }
      continue;
    }
    if (t === '$dumpvars' || t === '$end') {
      i++;
    } else if (t.startsWith('#')) {
      const next = Number(t.slice(1));
      if (!(next >= time)) throw new Error(`time goes backwards: ${t}`);
      time = next;
      i++;
    } else if (t.startsWith('b')) {
      const id = tokens[i + 1]!;
      const list = changes.get(id);
      if (list === undefined) throw new Error(`unknown id ${id}`);
      list.push([time, parseInt(t.slice(1), 2)]);
      i += 2;
    } else if (t[0] === '0' || t[0] === '1') {
      const id = t.slice(1);
      const list = changes.get(id);
      if (list === undefined) throw new Error(`unknown id ${id}`);
      list.push([time, Number(t[0])]);
      i++;
    } else {
      throw new Error(`unexpected token ${t}`);
    }
  }
  return { timescale, vars, changes, endTime: time };
}

/** Value of a variable at a time, from its changes. */
export function valueAt(trace: VcdTrace, name: string, time: number): number {
  const v = trace.vars.get(name);
  if (v === undefined) throw new Error(`no variable ${name}; have ${[...trace.vars.keys()].join(', ')}`);
  let value = NaN;
  for (const [t, val] of trace.changes.get(v.id)!) {
    if (t > time) break;
    value = val;
  }
  return value;
}
