import type { Construct } from 'constructs';
import type { z } from 'zod';
import type { HeaderMatchSchema } from './model/schema';
import { compact } from './private/model-shapes';

/** What {@link HeaderMatch.bind} returns. */
export interface HeaderMatchConfig {
  /** The model's header match. */
  readonly headerMatch: z.infer<typeof HeaderMatchSchema>;
}

/** A condition on a request header (or gRPC metadata entry). */
export abstract class HeaderMatch {
  /** The header equals `headerValue`. */
  static valueIs(headerName: string, headerValue: string): HeaderMatch {
    return new HeaderMatchOf(headerName, false, { exact: headerValue });
  }
  /** The header does not equal `headerValue`. */
  static valueIsNot(headerName: string, headerValue: string): HeaderMatch {
    return new HeaderMatchOf(headerName, true, { exact: headerValue });
  }
  /** The header starts with `prefix`. */
  static valueStartsWith(headerName: string, prefix: string): HeaderMatch {
    return new HeaderMatchOf(headerName, false, { prefix });
  }
  /** The header does not start with `prefix`. */
  static valueDoesNotStartWith(headerName: string, prefix: string): HeaderMatch {
    return new HeaderMatchOf(headerName, true, { prefix });
  }
  /** The header ends with `suffix`. */
  static valueEndsWith(headerName: string, suffix: string): HeaderMatch {
    return new HeaderMatchOf(headerName, false, { suffix });
  }
  /** The header does not end with `suffix`. */
  static valueDoesNotEndWith(headerName: string, suffix: string): HeaderMatch {
    return new HeaderMatchOf(headerName, true, { suffix });
  }
  /** The header matches `regex`. */
  static valueMatchesRegex(headerName: string, regex: string): HeaderMatch {
    return new HeaderMatchOf(headerName, false, { regex });
  }
  /** The header does not match `regex`. */
  static valueDoesNotMatchRegex(headerName: string, regex: string): HeaderMatch {
    return new HeaderMatchOf(headerName, true, { regex });
  }
  /** The header is an integer in [start, end). */
  static valuesIsInRange(headerName: string, start: number, end: number): HeaderMatch {
    return new HeaderMatchOf(headerName, false, rangeOf(start, end));
  }
  /** The header is not an integer in [start, end). */
  static valuesIsNotInRange(headerName: string, start: number, end: number): HeaderMatch {
    return new HeaderMatchOf(headerName, true, rangeOf(start, end));
  }
  /** Weft: the header is present, whatever its value (Istio's `{}` match). */
  static isPresent(headerName: string): HeaderMatch {
    return new HeaderMatchOf(headerName, false, { present: true });
  }
  /** Weft: the header is absent. */
  static isAbsent(headerName: string): HeaderMatch {
    return new HeaderMatchOf(headerName, true, { present: true });
  }
  /** Renders the match. */
  abstract bind(scope: Construct): HeaderMatchConfig;
}

function rangeOf(start: number, end: number): { range: { start: number; end: number } } {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start >= end) {
    throw new Error(`header range must be integers with start < end, got: [${start}, ${end})`);
  }
  return { range: { start, end } };
}

class HeaderMatchOf extends HeaderMatch {
  constructor(
    private readonly name: string,
    private readonly invert: boolean,
    private readonly match: z.infer<typeof HeaderMatchSchema>['match'],
  ) {
    super();
    if (name.length < 1 || name.length > 50) throw new Error(`header name must be 1-50 characters, got: '${name}'`);
  }
  bind(_scope: Construct): HeaderMatchConfig {
    return { headerMatch: compact({ name: this.name, invert: this.invert || undefined, match: this.match }) };
  }
}
