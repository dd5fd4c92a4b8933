from django import template

from mediaspace.sizes import readable_size

register = template.Library()
register.filter("readable_size", readable_size)
